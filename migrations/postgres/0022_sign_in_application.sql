-- The application a member was signing in to, as the tenant's admins know it ("OIDC app Events
-- (events-portal)"); empty when the member signed in on the hosted page with nowhere to go.
-- A pending iMIS sign-in carries it to the moment the member comes back.
ALTER TABLE member_sign_in_events ADD COLUMN application TEXT NOT NULL DEFAULT '';
ALTER TABLE pending_sign_ins ADD COLUMN application TEXT NOT NULL DEFAULT '';
