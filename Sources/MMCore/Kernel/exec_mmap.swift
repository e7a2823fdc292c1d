/// The point of execve() where a task leaves its old address space for the new one.

extension Kernel {
    /// Makes `mm` (a fully built new address space) the address space of `task` at execve:
    /// releases a vfork() parent waiting for the task (`mmRelease`), loads the new page tables on
    /// the CPU the task runs on (switch_mm), and drops the task's use of the old mm, tearing it
    /// down with its last user. Never fails. Linux: exec_mmap() → exec_mm_release(),
    /// activate_mm(), mmput(), fs/exec.c
    public func execMmap(_ task: Task, _ mm: MMStruct) {
        mmRelease(task)
        let old = task.mm
        let borrowed = task.activeMM
        task.mm = mm
        task.activeMM = nil
        if let c = cpuRunning(task) { switchMM(cpus[c], mm) }
        narrate("exec_mmap: pid \(task.pid) now runs on PGD at PFN \(mm.pgd)"
            + (old.map { "; its old mm (PGD at PFN \($0.pgd)) loses a user (mm_users \($0.mmUsers) → \($0.mmUsers - 1))" } ?? ""))
        if let b = borrowed { mmdrop(b) }
        if let o = old {
            o.mmUsers -= 1
            if o.mmUsers == 0 {
                exitMMap(o)
                mmdrop(o)
            }
        }
    }
}
