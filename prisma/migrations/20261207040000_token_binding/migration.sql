-- API tokens are bound to the member behind them (issue 19, finding 1): created_by is that member
-- (also for a token minted by a token: created_via names the parent), a token whose member is gone
-- stops working, and the token lookup returns the member's current role so a request acts with the lower one.

ALTER TABLE api_tokens
  ADD COLUMN created_via  uuid REFERENCES api_tokens(id),
  ADD COLUMN bootstrap    boolean NOT NULL DEFAULT false,
  ADD COLUMN last_used_at timestamptz(3);

-- The backfill reads and writes every workspace's rows: row security (forced, so it binds the owner too) is lifted
-- for this transaction only and forced again below.
ALTER TABLE api_tokens NO FORCE ROW LEVEL SECURITY;
ALTER TABLE members NO FORCE ROW LEVEL SECURITY;

-- Until now created_by held the creating member or, when a token minted the token, that token's id.
UPDATE api_tokens t SET created_via = t.created_by
 WHERE EXISTS (SELECT 1 FROM api_tokens p WHERE p.id = t.created_by);
-- Walk each chain up to its member: repeat until no created_by names a token (ids are fresh, so no cycles).
DO $$
BEGIN
  FOR i IN 1..64 LOOP
    UPDATE api_tokens t SET created_by = p.created_by FROM api_tokens p WHERE t.created_by = p.id;
    EXIT WHEN NOT FOUND;
  END LOOP;
END $$;
-- A token no member answers for, or whose member was removed, ends now; an unknown creator is cleared for the key below.
UPDATE api_tokens t SET revoked_at = now()
 WHERE t.revoked_at IS NULL
   AND NOT EXISTS (SELECT 1 FROM members m WHERE m.id = t.created_by AND m.workspace_id = t.workspace_id AND m.removed_at IS NULL);
UPDATE api_tokens t SET created_by = NULL
 WHERE t.created_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM members m WHERE m.id = t.created_by AND m.workspace_id = t.workspace_id);
ALTER TABLE api_tokens
  ADD CONSTRAINT api_tokens_created_by_fkey FOREIGN KEY (created_by) REFERENCES members(id),
  ADD CONSTRAINT api_tokens_bound CHECK (created_by IS NOT NULL OR revoked_at IS NOT NULL);
CREATE INDEX api_tokens_created_by ON api_tokens (created_by) WHERE revoked_at IS NULL;
CREATE INDEX api_tokens_created_via ON api_tokens (created_via) WHERE created_via IS NOT NULL;

-- Tokens had no default lifetime: the workspace's first token now ends after a day, every other
-- token without an expiry that no owner made gets the new 90-day default, counted from today.
UPDATE api_tokens SET bootstrap = true WHERE name = 'owner bootstrap token';
UPDATE api_tokens SET expires_at = now() + interval '1 day' WHERE bootstrap AND expires_at IS NULL AND revoked_at IS NULL;
UPDATE api_tokens t SET expires_at = now() + interval '90 days'
 WHERE t.expires_at IS NULL AND t.revoked_at IS NULL
   AND NOT EXISTS (SELECT 1 FROM members m WHERE m.id = t.created_by AND m.role = 'owner');

ALTER TABLE api_tokens FORCE ROW LEVEL SECURITY;
ALTER TABLE members FORCE ROW LEVEL SECURITY;

GRANT SELECT (created_by, last_used_at) ON api_tokens TO switchyard_resolver;

DROP FUNCTION auth_resolve_api_token(bytea);
CREATE FUNCTION auth_resolve_api_token(p_hash bytea)
  RETURNS TABLE (id uuid, workspace_id uuid, role text, expires_at timestamptz, revoked_at timestamptz,
                 creator_id uuid, creator_role text, last_used_at timestamptz)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
#variable_conflict use_column
BEGIN
  -- creator_id and creator_role are NULL when the member who created the token is removed (or none is known).
  RETURN QUERY
  SELECT t.id, t.workspace_id, t.role, t.expires_at, t.revoked_at, m.id, m.role, t.last_used_at
    FROM api_tokens t LEFT JOIN members m ON m.id = t.created_by AND m.removed_at IS NULL
   WHERE t.token_hash = p_hash;
END
$$;
ALTER FUNCTION auth_resolve_api_token(bytea) OWNER TO switchyard_resolver;
REVOKE ALL ON FUNCTION auth_resolve_api_token(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_resolve_api_token(bytea) TO switchyard_api;
