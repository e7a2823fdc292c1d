// TEMPORARY until the VM branch lands (it defines expandStack in mmap.swift).
extension Kernel {
    func expandStack(_ mm: MMStruct, _ addr: VirtAddr) -> Bool { false }
}
