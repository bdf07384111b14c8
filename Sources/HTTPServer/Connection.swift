/// One client connection as the event loop holds it: the socket, its transport and its protocol state.
final class Connection {
    let id: UInt64
    let fd: Int32
    let transport: Transport
    var machine: ConnectionStateMachine
    /// The epoll events registered now.
    var registered: UInt32

    init(id: UInt64, fd: Int32, transport: Transport, machine: ConnectionStateMachine, registered: UInt32) {
        self.id = id
        self.fd = fd
        self.transport = transport
        self.machine = machine
        self.registered = registered
    }
}
