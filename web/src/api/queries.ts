import { useQuery } from '@tanstack/react-query';
import { api, Page } from './client';
import type { paths } from './schema';
import type { ConnectionView, RouteView, SourceView } from './views';

// Workspaces hold a handful of these: one page of up to 500 is all of them. One query key, one fetch, for every screen.
export const useBrokers = () =>
  useQuery({ queryKey: ['brokers'], staleTime: Infinity, queryFn: () => api<paths['/v1/brokers']['get']['responses'][200]['content']['application/json']>('GET', '/v1/brokers') });
export const useConnections = () => useQuery({ queryKey: ['connections'], queryFn: () => api<Page<ConnectionView>>('GET', '/v1/connections?limit=500') });
export const useSources = () => useQuery({ queryKey: ['sources'], queryFn: () => api<Page<SourceView>>('GET', '/v1/sources?limit=500') });
export const useRoutes = () => useQuery({ queryKey: ['routes'], queryFn: () => api<Page<RouteView>>('GET', '/v1/routes?limit=500') });
