-- Invite mail: a member added to a workspace that already has members is mailed a notice through the notification
-- outbox (the worker alone holds the SMTP password). Members get a first password from the admin, not an invite
-- token, so the mail carries the console's address and her role, nothing secret. Not a preference: always sent.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
  CHECK (kind IN ('fills', 'rejections', 'blocks', 'limit_breaches', 'approvals_waiting', 'invite'));

-- The founding owner (the workspace's first member) is not invited: she is the one who asked for the workspace.
CREATE FUNCTION notification_outbox_invite() RETURNS trigger
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM members m WHERE m.workspace_id = NEW.workspace_id AND m.id <> NEW.id) THEN
    INSERT INTO notifications (workspace_id, member_id, kind, event_key, details)
    VALUES (NEW.workspace_id, NEW.id, 'invite', 'invite:' || NEW.id,
            jsonb_build_object('role', NEW.role, 'at', to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
    ON CONFLICT (member_id, event_key) DO NOTHING;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER members_invite_mail AFTER INSERT ON members FOR EACH ROW EXECUTE FUNCTION notification_outbox_invite();
