import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from './api/client';

/** Ends the session on the server (the cookie alone would survive a copy). */
export function SignOut() {
  const queries = useQueryClient();
  const signOut = useMutation({
    mutationFn: () => api('DELETE', '/v1/auth/session'),
    onSuccess: () => queries.setQueryData(['session'], null),
  });
  return (
    <button type="button" onClick={() => signOut.mutate()} disabled={signOut.isPending}>
      Sign out
    </button>
  );
}
