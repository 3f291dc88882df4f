import Foundation
import LedgerCLI

exit(LedgerCommandLine.run(CommandLine.arguments, environment: ProcessInfo.processInfo.environment))
