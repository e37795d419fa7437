import { Injectable } from '@nestjs/common';
import { Problem } from '../common/problem';
import { TenantDb } from '../database/tenant-db';
import type { AuthContext } from '../common/auth/auth-context';
import type { PaperQuotesDto } from './dto/paper-quotes.dto';
import { PaperQuotesRepository } from './paper-quotes.repository';

/**
 * Prices for a paper connection's simulator (tests, demos). The api only records them; the paper broker fills
 * the resting orders they cross when the worker next looks at them (the lifecycle poll, a signal, a snapshot),
 * so the fills arrive through the same order lifecycle as a real broker's.
 */
@Injectable()
export class PaperQuotesService {
  constructor(
    private readonly db: TenantDb,
    private readonly repository: PaperQuotesRepository,
  ) {}

  async post(auth: AuthContext, connectionId: string, dto: PaperQuotesDto): Promise<{ connectionId: string; quotes: number }> {
    await this.db.runRaw(auth.workspaceId, async (client) => {
      const connection = await this.repository.connection(client, connectionId);
      if (!connection) throw Problem.notFound('Connection');
      if (connection.broker !== 'paper')
        throw Problem.unprocessable('not_paper_connection', 'Quotes are for paper connections only; a real broker has its own prices.');
      if (connection.status !== 'active') throw Problem.conflict('connection_revoked', 'The connection was revoked.');
      await this.repository.insert(client, auth.workspaceId, connectionId, dto.quotes);
    });
    return { connectionId, quotes: dto.quotes.length };
  }
}
