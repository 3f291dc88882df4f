import Foundation
import LedgerLog
import LedgerWebhooks

enum DispatchCommand {
    static let help = """
        ledger dispatch: deliver webhooks from the outbox, without serving the API.

        Several dispatchers (and `ledger serve` instances, which run one each) share the outbox safely.
        Environment: DATABASE_URL, LEDGER_DATA_DIR, LEDGER_DB_POOL, LEDGER_WEBHOOK_RETRY_SCHEDULE,
        LEDGER_WEBHOOK_CONCURRENCY, LEDGER_WEBHOOK_TIMEOUT, LEDGER_WEBHOOK_LEASE_SECONDS,
        LEDGER_WEBHOOK_RETENTION_DAYS, LEDGER_WEBHOOK_ALLOW_PRIVATE, LEDGER_KEK or LEDGER_KEK_FILE (as for serve).
        Stops on SIGINT or SIGTERM.
        """

    static func run(_ settings: Settings) throws {
        let termination = TerminationSignals()
        let database = try Database(settings: settings)
        defer { database.close() }
        var webhooks = settings.webhooks
        webhooks.personalDataVault = try PersonalDataSetup.vault(settings, embedded: database.embedded != nil)
        try database.migrate(vault: webhooks.personalDataVault)
        let pool = database.makePool(size: 3, applicationName: "ledger-dispatcher")
        let dispatcher = WebhookDispatcher(pool: pool, conninfo: database.conninfo, configuration: webhooks)
        dispatcher.start()
        Log.info("dispatching webhooks", ["concurrency": .int(settings.webhooks.concurrency)])
        let signal = termination.wait()
        Log.info("stopping", ["signal": .string(signal)])
        dispatcher.stop()
        pool.close()
    }
}
