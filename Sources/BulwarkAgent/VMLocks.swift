public import Foundation

/// One holder per VM at a time, in order of asking: what keeps two tasks of one VM off libvirt at once.
public actor VMLocks {
    private var held: Set<UUID> = []
    private var waiting: [UUID: [CheckedContinuation<Void, Never>]] = [:]

    public init() {}

    public func acquire(_ vm: UUID) async {
        if held.insert(vm).inserted { return }
        await withCheckedContinuation { waiting[vm, default: []].append($0) }
    }

    public func release(_ vm: UUID) {
        if var queue = waiting[vm], !queue.isEmpty {
            let next = queue.removeFirst()
            waiting[vm] = queue.isEmpty ? nil : queue
            next.resume()  // The lock passes to the next holder without being released.
        } else {
            held.remove(vm)
        }
    }
}
