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

    /// The conditions of the filters that have a value, on the rows of `alias` (its `created_at` and the named
    /// columns), their values appended to `parameters` and numbered after those already there. Column names come
    /// from the code, values only as parameters. A filter without a value adds no condition: each combination is a
    /// statement of its own, planned for what it selects. (Written as `$n IS NULL OR …`, every filter looks
    /// selective to a generic plan, which then sorts the whole table instead of reading an index in order.)
    public static func conditions(_ filters: [ListFilter], on alias: String, parameters: inout [(any PostgresEncodable)?]) -> [String] {
        filters.compactMap { filter in
            let placeholder = "$\(parameters.count + 1)"
            switch filter {
            case let .equals(column, value?):
                parameters.append(value)
                return "\(alias).\(column) = \(placeholder)"
            case let .created(bound, time?):
                parameters.append(time)
                return "\(alias).created_at \(bound.rawValue) \(placeholder)::timestamptz"
            case .equals(_, nil), .created(_, nil):
                return nil
            }
        }
    }
}
