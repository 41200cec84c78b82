internal import CLibvirt
import Foundation

/// A domain lifecycle event (`VIR_DOMAIN_EVENT_ID_LIFECYCLE`).
public struct DomainEvent: Sendable, Hashable {
    /// `virDomainEventType`.
    public enum Kind: Int32, Sendable, Hashable {
        case defined = 0
        case undefined = 1
        case started = 2
        case suspended = 3
        case resumed = 4
        case stopped = 5
        case shutdown = 6
        case pmSuspended = 7
        case crashed = 8
    }

    public var domainName: String
    public var domainUUID: String
    /// Nil for an event type newer than this build knows.
    public var kind: Kind?
    /// The type-specific detail (`virDomainEventStoppedDetailType` and friends), raw.
    public var detail: Int32
}

/// Owns the continuation an event registration feeds; retained by libvirt until it calls the free callback.
final class EventSink: Sendable {
    let continuation: AsyncStream<DomainEvent>.Continuation
    init(_ continuation: AsyncStream<DomainEvent>.Continuation) { self.continuation = continuation }
}

private let lifecycleCallback:
    @convention(c) (virConnectPtr?, virDomainPtr?, Int32, Int32, UnsafeMutableRawPointer?) -> Int32 = {
        _, domain, event, detail, opaque in
        guard let domain, let opaque else { return 0 }
        let sink = Unmanaged<EventSink>.fromOpaque(opaque).takeUnretainedValue()
        var uuid = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
        _ = virDomainGetUUIDString(domain, &uuid)
        let name = virDomainGetName(domain).map { String(cString: $0) } ?? "?"
        sink.continuation.yield(
            DomainEvent(
                domainName: name,
                domainUUID: String(decoding: uuid.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
                kind: DomainEvent.Kind(rawValue: event), detail: detail))
        return 0
    }

private let releaseSink: @convention(c) (UnsafeMutableRawPointer?) -> Void = { opaque in
    guard let opaque else { return }
    let sink = Unmanaged<EventSink>.fromOpaque(opaque).takeRetainedValue()
    sink.continuation.finish()
}

extension Connection {
    /// Registers for lifecycle events of every domain; returns libvirt's callback id.
    func registerLifecycleEvents(_ continuation: AsyncStream<DomainEvent>.Continuation) throws(LibvirtError) -> Int32 {
        let opaque = Unmanaged.passRetained(EventSink(continuation)).toOpaque()
        let generic = unsafeBitCast(lifecycleCallback, to: virConnectDomainEventGenericCallback.self)
        let id = virConnectDomainEventRegisterAny(
            handle, nil, Int32(VIR_DOMAIN_EVENT_ID_LIFECYCLE.rawValue), generic, opaque, releaseSink)
        guard id >= 0 else {
            Unmanaged<EventSink>.fromOpaque(opaque).release()
            throw LibvirtError.last("virConnectDomainEventRegisterAny", subject: "URI '\(uri)'")
        }
        return id
    }

    func deregisterEvents(_ callbackID: Int32) {
        if virConnectDomainEventDeregisterAny(handle, callbackID) < 0 { virResetLastError() }
    }
}
