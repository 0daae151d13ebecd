// purview-sync on Azure Functions Flex Consumption (Python 3.11), identity-only access to its storage,
// its Key Vault and Application Insights. Plain `resource` declarations only (no registry modules), so
// the template is checked offline by tests/infra/test_infra.py (pycep-parser + checkov). Deploy: docs/deploy.md.
//
// Security posture: one user-assigned managed identity (UAMI) used for everything; storage shared keys
// off (Entra only), TLS 1.2, no public blobs; Key Vault with RBAC, soft delete and purge protection;
// App Insights with local auth off. The app is reachable from the internet (Qualytics calls it; function
// keys guard every route except /api/health); storage and vault keep public endpoints because Flex
// without VNet integration reaches them over their public endpoints (see docs/deploy.md, "Hardening").

targetScope = 'resourceGroup'

@description('Azure region for every resource (Flex Consumption must be available there).')
param location string = resourceGroup().location

@description('Short prefix for resource names (lowercase letters and digits, starts with a letter).')
@minLength(2)
@maxLength(10)
param namePrefix string = 'pvsync'

@description('Qualytics REST API base, e.g. https://acme.qualytics.io/api')
param qualyticsApiUrl string

@description('Base of the Qualytics links pushed to Purview; empty = the API URL without /api.')
param qualyticsUiUrl string = ''

@description('Optional JSON overriding the QualyticsURL link patterns (keys datastore, table, column; placeholders {ui}, {datastore_id}, {container_id}, {field_id}); empty = the built-in patterns.')
param qualyticsLinkTemplates string = ''

@description('Qualytics API token; stored only in Key Vault, the app reads it through a Key Vault reference.')
@secure()
param qualyticsApiToken string

@description('Comma-separated host globs a Purview URL may point at (tokens are sent nowhere else).')
param purviewAllowedHosts string = '*.purview.azure.com,*.purview-service.microsoft.com'

@description('Flex Consumption: the most instances the app may scale out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Flex Consumption: memory per instance (Microsoft.Web/sites@2024-04-01 accepts 2048 and 4096).')
@allowed([
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Lease of the per-integration sync lock, seconds (renewed while datastores progress).')
@minValue(30)
param syncLockTtlSeconds int = 300

@description('Window in which bursts of Qualytics events for one datastore coalesce, seconds.')
@minValue(0)
param eventCoalesceSeconds int = 30

@description('Time budget of one part of a datastore, seconds; a bigger datastore continues in another execution. Keep it below functionTimeout (host.json, 30 min).')
@minValue(60)
@maxValue(1500)
param datastoreTimeBudgetSeconds int = 1200

@description('NCRONTAB (seconds first, UTC) of the timer that starts the due scheduled syncs.')
param scheduleTick string = '0 */5 * * * *'

@description('Requests per second that all instances together may send to one Purview account (its Data Map capacity: 25 per capacity unit, shared with its scanners); 0 = no fleet-wide cap.')
@minValue(0)
param purviewMaxOpsPerSecond int = 200

@description('NCRONTAB schedule (six fields, seconds first, UTC) of the poll of Qualytics finished operations.')
param eventPollTick string = '0 */5 * * * *'

@description('Storage redundancy; geo-redundant by default, as the Integrations table is the only copy of the configuration.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_RAGRS'
  'Standard_GZRS'
  'Standard_RAGZRS'
])
param storageSkuName string = 'Standard_GRS'

@description('Tags applied to every resource.')
param tags object = {
  app: 'purview-sync'
}

// ---------------------------------------------------------------------------------------------------
// Names and constants
// ---------------------------------------------------------------------------------------------------

var token = toLower(uniqueString(subscription().id, resourceGroup().id, location, namePrefix))
var prefix = toLower(namePrefix)
var functionAppName = '${prefix}-func-${token}'
var storageAccountName = take('${replace(prefix, '-', '')}st${token}', 24)
var keyVaultName = take('${prefix}-kv-${token}', 24)
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}'
var qualyticsTokenSecretName = 'qualytics-api-token'

// Must equal purview_sync/storage/clients.py QUEUES and TABLES (tests/infra/test_infra.py checks it).
var queueNames = [
  'purview-sync-datastore'
  'purview-sync-datastore-poison'
  'qualytics-events'
  'qualytics-events-poison'
  'purview-sync-event-push' // internal: a coalesced event push that is due
  'purview-sync-event-push-poison'
]
var tableNames = [
  'Integrations'
  'SyncRuns'
  'TagMappings'
  'EventState'
  'LineageMappings'
  'PurviewBudget'
  'PushState'
  'OperationPoll' // the operations poll: watermark and per-operation markers
]

// Built-in role definition ids (azure-functions.md §3.2).
var roleIds = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

// ---------------------------------------------------------------------------------------------------
// Identity
// ---------------------------------------------------------------------------------------------------

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${prefix}-id-${token}'
  location: location
  tags: tags
}

// ---------------------------------------------------------------------------------------------------
// Monitoring
// ---------------------------------------------------------------------------------------------------

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2022-10-01' = {
  name: '${prefix}-log-${token}'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${prefix}-appi-${token}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true // telemetry only with Entra (APPLICATIONINSIGHTS_AUTHENTICATION_STRING)
  }
}

// ---------------------------------------------------------------------------------------------------
// Storage: host storage, Flex deployment container, the app's queues and tables
// ---------------------------------------------------------------------------------------------------

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: Default-deny needs VNet integration + private endpoints, which this template does not create (Flex without a VNet reaches its storage over the public endpoint). Access is Entra-only: shared keys are off.
  // checkov:skip=CKV_AZURE_59: Same as CKV_AZURE_35: the public endpoint stays reachable for the VNet-less Flex app; with shared keys off only RBAC-granted identities get in.
  // checkov:skip=CKV_AZURE_43: The name is computed at deploy time (prefix + uniqueString, take(…, 24)), which checkov cannot evaluate; tests/infra/test_infra.py checks the expression.
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: storageSkuName
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for name in queueNames: {
    parent: queueService
    name: name
  }
]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for name in tableNames: {
    parent: tableService
    name: name
  }
]

// ---------------------------------------------------------------------------------------------------
// Key Vault: the Qualytics API token (Key Vault reference) and one secret per integration (written by
// the app through azure-keyvault-secrets, hence Secrets Officer rather than Secrets User)
// ---------------------------------------------------------------------------------------------------

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: A firewall default-deny needs VNet integration + a private endpoint, which this template does not create; the app reaches the vault over its public endpoint and access is RBAC-only.
  // checkov:skip=CKV_AZURE_189: Same as CKV_AZURE_109: public network access stays enabled so the VNet-less Flex app and its Key Vault references can reach the vault.
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource qualyticsTokenSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: The token's lifetime is set in Qualytics, not here; an expiry in Key Vault would only break the app's Key Vault reference. Rotate by redeploying with a new token (docs/deploy.md).
  parent: vault
  name: qualyticsTokenSecretName
  properties: {
    value: qualyticsApiToken
    contentType: 'text/plain'
  }
}

// ---------------------------------------------------------------------------------------------------
// Role assignments for the UAMI (data-plane only; management roles grant no data access)
// ---------------------------------------------------------------------------------------------------

resource blobOwnerRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roleIds.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataOwner)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource queueContributorRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roleIds.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageQueueDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource tableContributorRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roleIds.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageTableDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource secretsOfficerRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identity.id, roleIds.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsOfficer)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource metricsPublisherRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, identity.id, roleIds.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.monitoringMetricsPublisher)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// ---------------------------------------------------------------------------------------------------
// Flex Consumption plan and the Function App
// ---------------------------------------------------------------------------------------------------

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Flex zone redundancy (properties.zoneRedundant) exists only in availability-zone regions and is left to the deployer (docs/deploy.md); the app itself is stateless.
  name: '${prefix}-plan-${token}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: Qualytics (a SaaS outside any VNet of ours) must reach the HTTP API; every route except /api/health needs a function key, over HTTPS only.
  // checkov:skip=CKV_AZURE_17: Qualytics authenticates with function keys and sends no client certificate; requiring one would lock it out.
  // checkov:skip=CKV_AZURE_212: siteConfig.numberOfWorkers is an App Service plan setting; Flex Consumption scales per instance (functionAppConfig.scaleAndConcurrency).
  // checkov:skip=CKV_AZURE_213: The platform health check (siteConfig.healthCheckPath) is not supported on Flex Consumption; /api/health serves external probes.
  // checkov:skip=CKV_AZURE_78: Flex Consumption has no FTP endpoint and rejects siteConfig.ftpsState (ARM: "site configuration property Site.SiteConfig.FtpsState for Flex Consumption sites is invalid"); basic-auth publishing is off (scmBasicAuth).
  name: functionAppName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: identity.id
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      http20Enabled: true
      // Every setting the code reads (purview_sync/settings.py SETTING_NAMES; tests/infra/test_infra.py compares)
      // plus the platform's APPLICATIONINSIGHTS_*. Not set: FUNCTIONS_WORKER_RUNTIME,
      // FUNCTIONS_EXTENSION_VERSION, WEBSITE_RUN_FROM_PACKAGE (Flex takes them from functionAppConfig) and
      // SECRET_ENCRYPTION_KEY (KEY_VAULT_URL is set, so integration secrets go to Key Vault).
      appSettings: [
        {
          name: 'AzureWebJobsStorage__accountName'
          value: storage.name
        }
        {
          name: 'AzureWebJobsStorage__blobServiceUri'
          value: storage.properties.primaryEndpoints.blob
        }
        {
          name: 'AzureWebJobsStorage__queueServiceUri'
          value: storage.properties.primaryEndpoints.queue
        }
        {
          name: 'AzureWebJobsStorage__tableServiceUri'
          value: storage.properties.primaryEndpoints.table
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identity.properties.clientId
        }
        {
          name: 'AZURE_CLIENT_ID'
          value: identity.properties.clientId
        }
        {
          name: 'AZURE_AUTHORITY_HOST'
          value: environment().authentication.loginEndpoint
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsights.properties.ConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${identity.properties.clientId};Authorization=AAD'
        }
        {
          name: 'KEY_VAULT_URL'
          value: vault.properties.vaultUri
        }
        {
          name: 'QUALYTICS_API_URL'
          value: qualyticsApiUrl
        }
        {
          name: 'QUALYTICS_API_TOKEN'
          value: '@Microsoft.KeyVault(SecretUri=${qualyticsTokenSecret.properties.secretUri})'
        }
        {
          name: 'QUALYTICS_UI_URL'
          value: qualyticsUiUrl
        }
        {
          name: 'PURVIEW_ALLOWED_HOSTS'
          value: purviewAllowedHosts
        }
        {
          name: 'SYNC_LOCK_TTL_SECONDS'
          value: string(syncLockTtlSeconds)
        }
        {
          name: 'EVENT_COALESCE_SECONDS'
          value: string(eventCoalesceSeconds)
        }
        {
          name: 'QUALYTICS_LINK_TEMPLATES'
          value: qualyticsLinkTemplates
        }
        {
          name: 'DATASTORE_TIME_BUDGET_SECONDS'
          value: string(datastoreTimeBudgetSeconds)
        }
        {
          name: 'SCHEDULE_TICK'
          value: scheduleTick
        }
        {
          name: 'PURVIEW_MAX_OPS_PER_SECOND'
          value: string(purviewMaxOpsPerSecond)
        }
        {
          name: 'EVENT_POLL_TICK'
          value: eventPollTick
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
  // The host starts as soon as the site exists: let it find its data-plane roles already granted.
  dependsOn: [
    blobOwnerRole
    queueContributorRole
    tableContributorRole
    secretsOfficerRole
    metricsPublisherRole
    queues
    tables
    deploymentContainer
  ]
}

// Basic-auth publishing (user + password on the SCM site, where Flex's deployment endpoint lives) off:
// deployments authenticate with Entra (az functionapp deployment / func azure functionapp publish).
// Flex has no FTP endpoint, and it rejects siteConfig.ftpsState, so there is no FTP setting here.
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

// ---------------------------------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------------------------------

output functionAppName string = functionApp.name
output functionAppUrl string = 'https://${functionApp.properties.defaultHostName}'
@description('Give this principal the Purview collection roles to use the managed identity for integrations.')
output identityPrincipalId string = identity.properties.principalId
@description('client_id for an integration that uses the managed identity (POST /api/integrations).')
output identityClientId string = identity.properties.clientId
output keyVaultName string = vault.name
output storageAccountName string = storage.name
