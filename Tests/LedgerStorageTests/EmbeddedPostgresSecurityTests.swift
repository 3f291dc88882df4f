import Foundation
import LedgerStorage
import LedgerTestSupport
import XCTest

/// The embedded cluster lets in only its owner: a private socket directory and a password nobody else can read.
final class EmbeddedPostgresSecurityTests: XCTestCase {
    private func makeCluster() throws -> EmbeddedPostgres {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("ledger-auth-\(UUID().uuidString.prefix(8))")
        let cluster = try EmbeddedPostgres(directory: directory, databaseName: "postgres", settings: ["fsync": "off"])
        addTeardownBlock {
            try? cluster.stop()
            try? FileManager.default.removeItem(at: directory)
        }
        return cluster
    }

    /// What a local user who is not the owner would try: the socket, the superuser's name, no password.
    private func connectWithoutPassword(_ cluster: EmbeddedPostgres) throws -> PostgresConnection {
        try PostgresConnection(conninfo: "host='\(cluster.socketDirectory.path)' port=\(cluster.port) user=\(EmbeddedPostgres.superuser) "
                                   + "dbname=postgres passfile=/dev/null")
    }

    private func mode(_ url: URL) throws -> Int {
        try ((FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? NSNumber)?.intValue ?? -1) & 0o777
    }

    private func assertOnlyTheOwnerGetsIn(_ cluster: EmbeddedPostgres, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertThrowsError(try connectWithoutPassword(cluster), "a connection without the password is refused", file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains("password"), "\(error)", file: file, line: line)
        }
        XCTAssertEqual(try PostgresConnection(conninfo: cluster.conninfo()).query("SELECT 1").int(0, 0), 1, file: file, line: line)
        XCTAssertEqual(try mode(cluster.socketDirectory), 0o700, "socket directory", file: file, line: line)
        XCTAssertEqual(try mode(cluster.directory.appendingPathComponent("password")), 0o600, "password file", file: file, line: line)
    }

    func testANewClusterRefusesConnectionsWithoutItsPassword() throws {
        let cluster = try makeCluster()
        try cluster.start()
        try assertOnlyTheOwnerGetsIn(cluster)
    }

    func testTheTestSuitesOwnClusterRefusesThemToo() throws {
        guard let cluster = try TestPostgres.shared().cluster else { throw XCTSkip("DATABASE_URL is set: no embedded cluster") }
        try assertOnlyTheOwnerGetsIn(cluster)
    }

    /// Clusters made by older builds trusted every local user; the first start by this build moves them to the password.
    func testAClusterThatTrustedLocalUsersIsMovedToPasswords() throws {
        let cluster = try makeCluster()
        try cluster.start()
        let owner = try PostgresConnection(conninfo: cluster.conninfo())
        try owner.execute("CREATE TABLE kept (value int); INSERT INTO kept VALUES (42)")
        try cluster.stop()
        let rules = cluster.dataDirectory.appendingPathComponent("pg_hba.conf")
        try Data("local all all trust\nhost all all 127.0.0.1/32 trust\n".utf8).write(to: rules)
        try FileManager.default.removeItem(at: cluster.directory.appendingPathComponent("password"))
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: cluster.socketDirectory.path)

        try cluster.start()
        try assertOnlyTheOwnerGetsIn(cluster)
        XCTAssertFalse(try String(contentsOf: rules, encoding: .utf8).contains("trust"))
        XCTAssertEqual(try PostgresConnection(conninfo: cluster.conninfo()).query("SELECT value FROM kept").int(0, 0), 42)

        try cluster.stop()
        try cluster.start()
        try assertOnlyTheOwnerGetsIn(cluster)
    }
}
