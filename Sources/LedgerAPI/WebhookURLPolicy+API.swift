import Foundation
import LedgerWebhooks

extension WebhookURLPolicy {
    /// The URL, or a 400 naming `param` and what is wrong with it.
    func check(_ text: String, livemode: Bool, param: String) throws -> String {
        if let problem = problem(text, livemode: livemode) { throw APIFailure.invalid(param, "\(param) \(problem)") }
        return text
    }
}
