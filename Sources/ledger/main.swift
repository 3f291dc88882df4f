import Foundation
import LedgerCLI
import LedgerLog

let status = LedgerCommandLine.run(CommandLine.arguments, environment: ProcessInfo.processInfo.environment)
Log.flush()
exit(status)
