import { useQuery } from '@tanstack/react-query';
import { api, Answer, Item, Page } from './client';

// The response types every screen shares, taken from the OpenAPI document (schema.d.ts).
export type ConnectionView = Item<'/v1/connections'>;
export type SourceView = Item<'/v1/sources'>;
/** A new or rotated source: the only time its secret (hmac) or token is shown. */
export type IssuedSource = Answer<'/v1/sources', 'post'>;
export type RouteView = Item<'/v1/routes'>;
export type SignalView = Item<'/v1/signals'>;
export type SignalDetail = Answer<'/v1/signals/{id}', 'get'>;
export type OrderView = Item<'/v1/orders'>;

// Workspaces hold a handful of these: one page of up to 500 is all of them. One query key, one fetch, for every screen.
export const useBrokers = () =>
  useQuery({ queryKey: ['brokers'], staleTime: Infinity, queryFn: () => api<Answer<'/v1/brokers', 'get'>>('GET', '/v1/brokers') });
export const useConnections = () => useQuery({ queryKey: ['connections'], queryFn: () => api<Page<ConnectionView>>('GET', '/v1/connections?limit=500') });
export const useSources = () => useQuery({ queryKey: ['sources'], queryFn: () => api<Page<SourceView>>('GET', '/v1/sources?limit=500') });
export const useRoutes = () => useQuery({ queryKey: ['routes'], queryFn: () => api<Page<RouteView>>('GET', '/v1/routes?limit=500') });

export type PositionsView = Answer<'/v1/connections/{id}/positions', 'get'>;
/** A read older than SNAPSHOT_MAX_AGE_MS makes the worker open the credential (audited) and call the broker: once a minute, while the page is visible. */
export const usePositions = (connectionId: string) =>
  useQuery({
    queryKey: ['positions', connectionId],
    queryFn: () => api<PositionsView>('GET', `/v1/connections/${connectionId}/positions`),
    refetchInterval: 60_000,
    retry: 1,
  });
