import Foundation

/// A narrowing of a list of rows: a column equal to a value, or the creation time past a bound (the `created[…]`
/// parameters of the lists). One without a value narrows nothing.
public enum ListFilter: Sendable, Equatable {
    case equals(column: String, String?)
    case created(Bound, Date?)

    /// Named as in `created[gte]`; the raw value is the comparison.
    public enum Bound: String, CaseIterable, Sendable {
        case gte = ">=", gt = ">", lte = "<=", lt = "<"

        /// The list parameter: `created[gte]`.
        public var parameterName: String { "created[\(String(describing: self))]" }
    }

    /// The filters as conditions on the rows of `alias` (its `created_at` and the named columns), their values
    /// appended to `parameters` and numbered after those already there. Column names come from the code, values
    /// only as parameters; the conditions are the same whichever filters have values, so that a statement is
    /// planned once.
    public static func conditions(_ filters: [ListFilter], on alias: String, parameters: inout [(any PostgresEncodable)?]) -> [String] {
        filters.map { filter in
            let placeholder = "$\(parameters.count + 1)"
            switch filter {
            case let .equals(column, value):
                parameters.append(value)
                return "(\(placeholder)::text IS NULL OR \(alias).\(column) = \(placeholder))"
            case let .created(bound, time):
                parameters.append(time)
                return "(\(placeholder)::timestamptz IS NULL OR \(alias).created_at \(bound.rawValue) \(placeholder))"
            }
        }
    }
}
