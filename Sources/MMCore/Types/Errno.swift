/// Linux errno values returned by refused system calls.
public enum Errno: Int32, Error, Sendable, CustomStringConvertible {
    case EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, EBADF = 9, EAGAIN = 11
    case ENOMEM = 12, EACCES = 13, EFAULT = 14, EBUSY = 16, EEXIST = 17, ENODEV = 19
    case EINVAL = 22, ENFILE = 23, EFBIG = 27, ENOSPC = 28, ENOSYS = 38, EOVERFLOW = 75

    /// The symbolic name, e.g. "ENOMEM".
    public var name: String {
        switch self {
        case .EPERM: return "EPERM"
        case .ENOENT: return "ENOENT"
        case .ESRCH: return "ESRCH"
        case .EINTR: return "EINTR"
        case .EIO: return "EIO"
        case .EBADF: return "EBADF"
        case .EAGAIN: return "EAGAIN"
        case .ENOMEM: return "ENOMEM"
        case .EACCES: return "EACCES"
        case .EFAULT: return "EFAULT"
        case .EBUSY: return "EBUSY"
        case .EEXIST: return "EEXIST"
        case .ENODEV: return "ENODEV"
        case .EINVAL: return "EINVAL"
        case .ENFILE: return "ENFILE"
        case .EFBIG: return "EFBIG"
        case .ENOSPC: return "ENOSPC"
        case .ENOSYS: return "ENOSYS"
        case .EOVERFLOW: return "EOVERFLOW"
        }
    }
    public var description: String { name }
    /// The strerror() text glibc prints for this errno.
    public var message: String {
        switch self {
        case .EPERM: return "Operation not permitted"
        case .ENOENT: return "No such file or directory"
        case .ESRCH: return "No such process"
        case .EINTR: return "Interrupted system call"
        case .EIO: return "Input/output error"
        case .EBADF: return "Bad file descriptor"
        case .EAGAIN: return "Resource temporarily unavailable"
        case .ENOMEM: return "Cannot allocate memory"
        case .EACCES: return "Permission denied"
        case .EFAULT: return "Bad address"
        case .EBUSY: return "Device or resource busy"
        case .EEXIST: return "File exists"
        case .ENODEV: return "No such device"
        case .EINVAL: return "Invalid argument"
        case .ENFILE: return "Too many open files in system"
        case .EFBIG: return "File too large"
        case .ENOSPC: return "No space left on device"
        case .ENOSYS: return "Function not implemented"
        case .EOVERFLOW: return "Value too large for defined data type"
        }
    }
}
