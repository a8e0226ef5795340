-- Directory members get a subject of their own, stored: new members an opaque one made when
-- they are added, existing members the one they already had ('directory:' and the username), so
-- no application sees a change. A subject is never given to another member: removing bob and
-- adding a new bob gives the new one a new subject.
-- Keep in step with migrations/postgres/0014_member_subjects.sql.

ALTER TABLE directory_members ADD COLUMN subject TEXT NOT NULL DEFAULT '';
UPDATE directory_members SET subject = 'directory:' || username;
CREATE UNIQUE INDEX directory_members_subject_key ON directory_members (tenant_id, subject);
