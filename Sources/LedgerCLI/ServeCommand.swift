import Dispatch
import Synchronization
import Foundation
import LedgerAPI
import LedgerDomain
import LedgerEngine
import LedgerHTTP
import LedgerLog
import LedgerStorage
import LedgerWebhooks

enum ServeCommand {
    static let help = """
        ledger serve: run the REST service.

        Migrates the database first. Without DATABASE_URL it uses (creating and starting it if needed) the
        embedded PostgreSQL in LEDGER_DATA_DIR (default ./.ledger) and stops it again on exit.
        Stops gracefully on SIGINT or SIGTERM: requests in flight finish first.

        On an embedded database with no organization yet it creates a demo organization and prints a test
        API key with every scope, once.

        Environment: LEDGER_LISTEN (127.0.0.1:8080), DATABASE_URL, LEDGER_DATA_DIR, LEDGER_THREADS,
        LEDGER_DB_POOL, LEDGER_MAX_BODY_BYTES, LEDGER_CONNECTION_TIMEOUT, LEDGER_REQUEST_TIMEOUT,
        LEDGER_CONNECTION_LIMIT, LEDGER_RATE_LIMIT, LEDGER_RATE_LIMIT_BURST, LEDGER_AUTH_CACHE_SECONDS, LEDGER_LOG_REQUESTS,
        LEDGER_WEBHOOK_RETRY_SCHEDULE, LEDGER_WEBHOOK_CONCURRENCY, LEDGER_WEBHOOK_ALLOW_PRIVATE, LEDGER_WEBHOOK_ENDPOINT_LIMIT,
        LEDGER_WEBHOOK_TIMEOUT, LEDGER_WEBHOOK_LEASE_SECONDS, LEDGER_WEBHOOK_RETENTION_DAYS,
        LEDGER_SANDBOX_STEP_DELAY_MS (between the sandbox provider's steps; 0), LEDGER_VALIDITY_DAYS (how long an
        approval counts; 365), LEDGER_REVERIFICATION_DAYS (KYC status asks for reverification this long before; 30),
        LEDGER_WEBHOOK_DISPATCH (0: no dispatcher here), LEDGER_KEK or LEDGER_KEK_FILE (the key-encryption key: base64
        of 32 bytes; required with DATABASE_URL, generated into LEDGER_DATA_DIR/kek for the embedded database),
        LEDGER_CHECKPOINT_SECONDS (10), LEDGER_CHECKPOINT_KEY or
        LEDGER_CHECKPOINT_KEY_FILE (the checkpoint signer key; on the embedded database made on first start as
        checkpoint.key in the data directory, named LEDGER_LOG_ORIGIN), and without either no checkpoints are signed.
        The webhook dispatcher runs inside; `ledger dispatch` runs one alone.
        """

    static func run(_ settings: Settings) throws {
        let termination = TerminationSignals()
        let database = try Database(settings: settings)
        defer { database.close() }
        let vault = try PersonalDataSetup.vault(settings, embedded: database.embedded != nil)
        let (applied, latest) = try database.migrate(vault: vault)
        if !applied.isEmpty {
            Log.info("applied migrations", ["count": .int(applied.count), "schema_version": .int(latest)])
        }
        if database.embedded != nil { try createDemoOrganizationIfNone(database, settings) }
        let pool = database.makePool(size: settings.databasePoolSize, commitThreads: settings.commitThreads,
                                     applicationName: "ledger-api")
        let signer = try CheckpointKey.load(environment: settings.environment,
                                            embeddedDirectory: database.embedded == nil ? nil : settings.dataDirectory)
            .map(CheckpointSigner.init(key:))
        if signer == nil { Log.warning("no checkpoint key (LEDGER_CHECKPOINT_KEY or LEDGER_CHECKPOINT_KEY_FILE): the log is not signed") }
        var apiConfiguration = settings.api
        apiConfiguration.checkpointSigner = signer
        apiConfiguration.personalDataVault = vault
        let application = LedgerApplication(pool: pool, schemaVersion: latest, configuration: apiConfiguration)
        let server = HTTPServer(configuration: settings.httpConfiguration, handler: application.handle)
        try server.start()
        ExpiryScheduler(engine: application.engine).start(interval: 1)
        Rescoring(pool: pool, engine: application.engine).start(interval: 1)
        IdempotencyPurger(pool: pool).start(interval: 60)
        // The audit log appends with a connection of its own, so that it keeps up however busy the API's pool is.
        let auditPool = database.makePool(size: 1, applicationName: "ledger-audit-log")
        AuditLogKeeper(pool: auditPool, signer: signer, checkpointInterval: Double(settings.checkpointSeconds)).start()
        // The dispatcher has connections of its own: waiting for the API's pool under load, it could not record
        // a delivery, and the message went out again when its lease ran out.
        let dispatchPool = settings.dispatchInServe ? database.makePool(size: 3, applicationName: "ledger-dispatcher") : nil
        var webhooks = settings.webhooks
        webhooks.personalDataVault = vault
        let dispatcher = dispatchPool.map { WebhookDispatcher(pool: $0, conninfo: database.conninfo, configuration: webhooks) }
        dispatcher?.start()
        Log.info("listening", ["url": .string("http://\(settings.listenHost):\(server.port)"),
                               "threads": .int(settings.threads), "db_pool": .int(settings.databasePoolSize), "commit_threads": .int(settings.commitThreads)])
        let signalName = termination.wait()
        Log.info("shutting down", ["signal": .string(signalName)])
        server.shutdown(gracePeriod: 10)
        dispatcher?.stop()
        dispatchPool?.close()
        auditPool.close()
        pool.close()
    }

    /// On an embedded database with no organization yet: a demo organization and a test key with every
    /// scope, printed once on standard output (never logged).
    static func createDemoOrganizationIfNone(_ database: Database, _ settings: Settings) throws {
        let connection = try PostgresConnection(conninfo: database.conninfo)
        try connection.execute("SET search_path = ledger, public; SET TimeZone = 'UTC'")
        guard try AccessStore.organizationCount(connection) == 0 else { return }
        let organization = try AccessStore.createOrganization(connection, name: "Demo organization")
        let (record, secret) = try AccessStore.createKey(connection, organizationID: organization.id, livemode: false,
                                                         scopes: Set(Scope.allCases), description: "demo key created by ledger serve")
        print("""
            Created a demo organization (\(organization.id.uuidString.lowercased())) and a test API key with every scope.
            It is shown this once; keep it (ledger keys create makes more):

                \(secret)

            Try it:
                curl -s -H 'Authorization: Bearer \(secret)' http://\(settings.listenHost):\(settings.listenPort)/v1/organization

            """)
        fflush(nil)
        Log.info("created the demo organization", ["org_id": .string(organization.id.uuidString.lowercased()), "key_id": .string(record.id)])
    }
}
