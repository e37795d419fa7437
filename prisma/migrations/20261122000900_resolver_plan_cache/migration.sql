-- The webhook's source lookup and the API's token lookup run on every request. As SECURITY DEFINER
-- LANGUAGE sql functions they are never inlined, and PostgreSQL parsed and planned their body on every
-- call (~0.45 ms of the webhook's ~0.5 ms lookup); PL/pgSQL keeps the plan for the session.
-- Same signature, results, owner (switchyard_resolver) and grants: CREATE OR REPLACE keeps them.

CREATE OR REPLACE FUNCTION hooks_resolve_source(p_source_id uuid)
  RETURNS TABLE (workspace_id uuid, auth_mode text, allowed_ips text[], secret_version integer, token_hash bytea)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT s.workspace_id, s.auth_mode, s.allowed_ips, k.version, k.token_hash
    FROM sources s JOIN source_secrets k ON k.source_id = s.id
   WHERE s.id = p_source_id AND s.deleted_at IS NULL
     AND k.destroyed_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
   ORDER BY k.version DESC;
END
$$;

CREATE OR REPLACE FUNCTION auth_resolve_api_token(p_hash bytea)
  RETURNS TABLE (id uuid, workspace_id uuid, role text, expires_at timestamptz, revoked_at timestamptz)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT t.id, t.workspace_id, t.role, t.expires_at, t.revoked_at FROM api_tokens t WHERE t.token_hash = p_hash;
END
$$;
