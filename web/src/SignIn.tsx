import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from './api/client';

/** E-mail and password into a cookie session; the password field is cleared whatever the answer. */
export function SignIn() {
  const queries = useQueryClient();
  const signIn = useMutation({
    mutationFn: (body: { email: string; password: string }) => api('POST', '/v1/auth/session', body),
    onSuccess: () => queries.invalidateQueries({ queryKey: ['session'] }),
  });
  return (
    <section aria-labelledby="signin-heading">
      <h2 id="signin-heading">Sign in</h2>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          const form = event.currentTarget;
          const data = new FormData(form);
          (form.elements.namedItem('password') as HTMLInputElement).value = '';
          signIn.mutate({ email: String(data.get('email')), password: String(data.get('password')) });
        }}
      >
        <label>
          Email <input name="email" type="email" autoComplete="username" required />
        </label>
        <label>
          Password <input name="password" type="password" autoComplete="current-password" required />
        </label>
        <button type="submit" disabled={signIn.isPending}>
          Sign in
        </button>
        {signIn.isError && <p role="alert">{signIn.error.message}</p>}
      </form>
    </section>
  );
}
