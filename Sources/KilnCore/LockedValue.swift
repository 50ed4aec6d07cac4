import Foundation

/// A value shared between threads, every access under a lock. `@unchecked Sendable` is sound
/// because the stored value is only reached through `withLock`/`value`, which hold `lock`.
public final class LockedValue<Value>: @unchecked Sendable {
    private var stored: Value
    private let lock = NSLock()

    /// A box holding `value`.
    public init(_ value: Value) { stored = value }

    /// Runs `body` on the value with the lock held.
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&stored)
    }

    /// A copy of the value.
    public var value: Value { withLock { $0 } }
}
