import Dispatch
import Foundation
import KilnCore

extension NightlyRunner {
    /// Runs the plan as `run()` does, with Ctrl-C / SIGTERM handled: start nothing new, let running
    /// builds end, write the report (finished nodes are already stored, so the next run resumes).
    /// The signals' default actions are restored when the run ends.
    public func runHandlingInterrupts(progress: KilnCore.Progress = .shared) throws -> (report: RunReport, directory: String) {
        signal(SIGINT, SIG_IGN); signal(SIGTERM, SIG_IGN)
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { [self] in
                progress.log("nightly: interrupted — waiting for running builds, then writing the report")
                cancel()
            }
            s.resume()
            sources.append(s)
        }
        defer {
            for s in sources { s.cancel() }
            signal(SIGINT, SIG_DFL); signal(SIGTERM, SIG_DFL)
        }
        return try run()
    }
}
