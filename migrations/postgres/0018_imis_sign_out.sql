-- Where members sign out of the association's iMIS site itself: the hosted "signed out" page
-- links there, since ending single sign-on leaves the iMIS session open. Empty: not named.
-- Keep in step with migrations/sqlite/0018_imis_sign_out.sql.

ALTER TABLE tenant_settings ADD COLUMN imis_sign_out_url TEXT NOT NULL DEFAULT '';
