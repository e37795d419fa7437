import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { BrokersModule } from '../brokers/brokers.module';
import { KmsModule } from '../kms/kms.module';
import { BrokersController } from './brokers.controller';
import { ConnectionRiskController } from './connection-risk.controller';
import { ConnectionRiskRepository } from './connection-risk.repository';
import { ConnectionRiskService } from './connection-risk.service';
import { ConnectionsController } from './connections.controller';
import { ConnectionsRepository } from './connections.repository';
import { ConnectionsService } from './connections.service';
import { CredentialSealer } from './credential-sealer';

/**
 * Broker connections for the api: onboarding, rotation, revocation. It holds the KMS as the api
 * principal, which may generate data keys but never decrypt a broker credential.
 */
@Module({
  imports: [AuditModule, BrokersModule, KmsModule.forPrincipal('api')],
  controllers: [ConnectionsController, BrokersController, ConnectionRiskController],
  providers: [ConnectionsService, ConnectionsRepository, CredentialSealer, ConnectionRiskRepository, ConnectionRiskService],
})
export class CredentialsModule {}
