internal import CLibvirt
import Foundation

extension Connection {
    /// The names of every network libvirt has defined, running or not: where a restored VM's interfaces may go.
    public func networkNames() throws(LibvirtError) -> [String] {
        var list: UnsafeMutablePointer<virNetworkPtr?>?
        let count = virConnectListAllNetworks(handle, &list, 0)
        guard count >= 0, let list else { throw LibvirtError.last("virConnectListAllNetworks") }
        defer { free(list) }
        var names: [String] = []
        for index in 0..<Int(count) {
            guard let network = list[index] else { continue }
            if let name = virNetworkGetName(network) { names.append(String(cString: name)) }
            virNetworkFree(network)
        }
        return names.sorted()
    }
}
