import Dispatch
import Synchronization
import Foundation
import LedgerAPI
import LedgerHTTP
import LedgerLog
import LedgerStorage

enum ServeCommand {
    static let help = """
        ledger serve: run the REST service.

        Migrates the database first. Without DATABASE_URL it uses (creating and starting it if needed) the
        embedded PostgreSQL in LEDGER_DATA_DIR (default ./.ledger) and stops it again on exit.
        Stops gracefully on SIGINT or SIGTERM: requests in flight finish first.

        Environment: LEDGER_LISTEN (127.0.0.1:8080), DATABASE_URL, LEDGER_DATA_DIR, LEDGER_THREADS,
        LEDGER_DB_POOL, LEDGER_MAX_BODY_BYTES, LEDGER_CONNECTION_TIMEOUT, LEDGER_CONNECTION_LIMIT.
        """

    static func run(_ settings: Settings) throws {
        let database = try Database(settings: settings)
        defer { database.close() }
        let (applied, latest) = try database.migrate()
        if !applied.isEmpty {
            Log.info("applied migrations", ["count": .int(applied.count), "schema_version": .int(latest)])
        }
        let pool = database.makePool(size: settings.databasePoolSize)
        let application = LedgerApplication(pool: pool, schemaVersion: latest)
        let server = HTTPServer(configuration: settings.httpConfiguration, handler: application.handle)
        try server.start()
        Log.info("listening", ["url": .string("http://\(settings.listenHost):\(server.port)"),
                               "threads": .int(settings.threads), "db_pool": .int(settings.databasePoolSize)])
        let signalName = waitForTerminationSignal()
        Log.info("shutting down", ["signal": .string(signalName)])
        server.shutdown(gracePeriod: 10)
        pool.close()
    }

    /// Blocks until SIGINT or SIGTERM arrives; returns its name.
    static func waitForTerminationSignal() -> String {
        let received = DispatchSemaphore(value: 0)
        let name = Mutex("")
        var sources: [DispatchSourceSignal] = []
        for (number, label) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                name.withLock { $0 = label }
                received.signal()
            }
            source.resume()
            sources.append(source)
        }
        received.wait()
        for source in sources { source.cancel() }
        return name.withLock { $0 }
    }
}
