import Foundation
import LedgerAPI
import LedgerLog

/// `ledger <command> [options]`: the one executable of the product.
public enum LedgerCommandLine {
    static let help = """
        ledger: an event-sourced ledger of identity verifications.

        Usage: ledger <command> [options]

        Commands:
          serve      run the REST service (migrates first)
          migrate    apply pending database migrations
          dispatch   deliver webhooks from the outbox (serve runs a dispatcher too)
          orgs       create organizations: `ledger orgs create NAME`
          keys       API keys: `ledger keys create|list|revoke`
          replay     compare (--check) or repair the read models against the log
          rescore    re-score orders with a ruleset version: a dry run's diff, or --apply
          bench      benchmarks: `ledger bench append`, `ledger bench http`, `ledger bench rescore`
          verify     check every hash chain, the Merkle tree and the checkpoints: `ledger verify [--org ID]`
          listen        print webhooks as they arrive, like `stripe listen`: `ledger listen --key KEY`
          verify-proof  check a proof offline: `ledger verify-proof PROOF.json --public-key KEY`
          openapi       print the OpenAPI 3.1 document of the API (as GET /openapi.json serves it)

        Run `ledger <command> --help` for a command's options and environment.
        Without DATABASE_URL every command uses an embedded PostgreSQL in LEDGER_DATA_DIR (default ./.ledger).
        """

    /// Runs the command line; returns the process exit status.
    public static func run(_ arguments: [String], environment: [String: String]) -> Int32 {
        var rest = Array(arguments.dropFirst())
        guard let command = rest.first else {
            print(help)
            return 2
        }
        rest.removeFirst()
        let wantsHelp = rest.contains("--help") || rest.contains("-h")
        do {
            switch command {
            case "help", "--help", "-h":
                print(help)
            case "serve":
                if wantsHelp { print(ServeCommand.help); return 0 }
                try ServeCommand.run(try Settings(environment: environment))
            case "migrate":
                if wantsHelp { print(MigrateCommand.help); return 0 }
                try MigrateCommand.run(try Settings(environment: environment))
            case "dispatch":
                if wantsHelp { print(DispatchCommand.help); return 0 }
                try DispatchCommand.run(try Settings(environment: environment))
            case "orgs":
                if wantsHelp || rest.isEmpty { print(AccessCommands.orgsHelp); return wantsHelp ? 0 : 2 }
                try AccessCommands.orgs(rest, settings: try Settings(environment: environment))
            case "keys":
                if wantsHelp || rest.isEmpty { print(AccessCommands.keysHelp); return wantsHelp ? 0 : 2 }
                try AccessCommands.keys(rest, settings: try Settings(environment: environment))
            case "replay":
                if wantsHelp { print(ReplayCommand.help); return 0 }
                return try ReplayCommand.run(rest, settings: try Settings(environment: environment))
            case "rescore":
                if wantsHelp { print(RescoreCommand.help); return 0 }
                return try RescoreCommand.run(rest, settings: try Settings(environment: environment), environment: environment)
            case "openapi":
                if wantsHelp { print("Usage: ledger openapi\n\nPrints the OpenAPI 3.1 document, made from the operations' declarations."); return 0 }
                FileHandle.standardOutput.write(Data(LedgerApplication.openAPIDocument.utf8))
            case "bench":
                if wantsHelp || rest.isEmpty { print(BenchCommand.help); return wantsHelp ? 0 : 2 }
                try BenchCommand.run(rest, settings: try Settings(environment: environment))
            case "verify":
                if wantsHelp { print(VerifyCommand.help); return 0 }
                return try VerifyCommand.run(rest, settings: try Settings(environment: environment))
            case "listen":
                if wantsHelp { print(ListenCommand.help); return 0 }
                try ListenCommand.run(rest, environment: environment)
            case "verify-proof":
                if wantsHelp { print(VerifyProofCommand.help); return 0 }
                return try VerifyProofCommand.run(rest)
            default:
                FileHandle.standardError.write(Data("ledger: unknown command '\(command)'\n\n\(help)\n".utf8))
                return 2
            }
            return 0
        } catch let error as UsageError {
            FileHandle.standardError.write(Data("ledger \(command): \(error.message)\n".utf8))
            return 2
        } catch {
            Log.error("ledger \(command) failed", ["error": .string("\(error)")])
            return 1
        }
    }
}

struct UsageError: Error {
    let message: String
}

/// `--name value` options after the command.
struct Options {
    private var values: [String: String] = [:]
    let positional: [String]

    init(_ arguments: [String], known: Set<String>) throws {
        var positional: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument.hasPrefix("--") {
                let name = String(argument.dropFirst(2))
                guard known.contains(name) else { throw UsageError(message: "unknown option \(argument)") }
                guard index + 1 < arguments.count else { throw UsageError(message: "\(argument) needs a value") }
                values[name] = arguments[index + 1]
                index += 2
            } else {
                positional.append(argument)
                index += 1
            }
        }
        self.positional = positional
    }

    func integer(_ name: String, default fallback: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = values[name] else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw UsageError(message: "--\(name) takes a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    func string(_ name: String) -> String? { values[name] }
}
