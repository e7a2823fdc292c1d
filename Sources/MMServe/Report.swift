/// `mmsim report`: one self-contained HTML file (inline CSS and SVG, no script, no external URL)
/// with the timelines and the final state of a run.
import Foundation
import MMCore

/// Escapes `s` for HTML text and attribute values.
func htmlEscape(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.count)
    for c in s {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        default: out.append(c)
        }
    }
    return out
}

/// The colours of frame uses, shared with the page (style.css uses the same).
let useColours: [(key: String, name: String, colour: String)] = [
    ("f", "free", "#e8e8e8"), ("a", "anon", "#e4572e"), ("c", "file", "#29335c"), ("p", "page table", "#f3a712"),
    ("s", "slab", "#669bbc"), ("k", "kernel", "#6b4e71"), ("o", "other", "#a8c686"),
]
/// Series colours of the timelines.
let seriesColours = ["#e4572e", "#29335c", "#f3a712", "#669bbc", "#6b4e71", "#a8c686", "#2a9d8f", "#b5179e"]

/// SVG drawings shared by the reports.
public enum SVGCharts {
    /// Returns a line chart of `series` (name, values) over `count` points; `unit` labels the y axis.
    public static func lineChart(id: String, title: String, unit: String, series: [(String, [Double])]) -> String {
        let w = 640.0, h = 200.0, left = 70.0, right = 150.0, top = 24.0, bottom = 24.0
        let n = series.map { $0.1.count }.max() ?? 0
        let maxY = max(series.flatMap { $0.1 }.max() ?? 0, 1e-9)
        var s = "<svg id=\"\(id)\" class=\"chart\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" width=\"\(Int(w))\" height=\"\(Int(h))\">"
        s += "<text x=\"4\" y=\"14\" class=\"title\">\(htmlEscape(title))</text>"
        s += "<line x1=\"\(left)\" y1=\"\(h - bottom)\" x2=\"\(w - right)\" y2=\"\(h - bottom)\" stroke=\"#888\"/>"
        s += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(h - bottom)\" stroke=\"#888\"/>"
        s += "<text x=\"\(left - 4)\" y=\"\(top + 4)\" text-anchor=\"end\" class=\"axis\">\(htmlEscape(format(maxY, unit)))</text>"
        s += "<text x=\"\(left - 4)\" y=\"\(h - bottom)\" text-anchor=\"end\" class=\"axis\">0</text>"
        for (i, (name, values)) in series.enumerated() {
            let colour = seriesColours[i % seriesColours.count]
            var pts: [String] = []
            for (j, v) in values.enumerated() {
                let x = left + (n > 1 ? Double(j) / Double(n - 1) : 0) * (w - left - right)
                let y = (h - bottom) - v / maxY * (h - top - bottom)
                pts.append(String(format: "%.1f,%.1f", x, y))
            }
            let last = values.last ?? 0
            s += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\" points=\"\(pts.joined(separator: " "))\">"
            s += "<title>\(htmlEscape(name)): last \(htmlEscape(format(last, unit)))</title></polyline>"
            s += "<text x=\"\(w - right + 6)\" y=\"\(top + 14 * Double(i) + 4)\" fill=\"\(colour)\" class=\"legend\" data-last=\"\(htmlEscape(format(last, "")))\">\(htmlEscape(name)) \(htmlEscape(format(last, unit)))</text>"
        }
        return s + "</svg>"
    }

    /// Returns `v` with its unit: KiB values as kB, rates as %, counts plain.
    static func format(_ v: Double, _ unit: String) -> String {
        switch unit {
        case "kB": return "\(Int(v.rounded())) kB"
        case "%": return String(format: "%.1f%%", v * 100)
        case "": return v == v.rounded() ? "\(Int(v))" : String(format: "%.4f", v)
        default: return "\(Int(v.rounded())) \(unit)"
        }
    }

    /// Returns the pieces of an address-space band: each VMA or hole with its x position and width,
    /// holes larger than a quarter of the mapped bytes drawn as a fixed-width break.
    public static func bandLayout(_ vmas: [VMASnapshot], width: Double) -> [(x: Double, w: Double, vma: Int?, broken: Bool)] {
        guard !vmas.isEmpty else { return [] }
        let sorted = vmas.indices.sorted { vmas[$0].start < vmas[$1].start }
        let mapped = sorted.reduce(0.0) { $0 + Double(vmas[$1].end &- vmas[$1].start) }
        let breakWidth = 18.0, minWidth = 3.0
        var pieces: [(Double, Int?, Bool)] = []   // (bytes or -1 for break, vma, broken)
        var prevEnd: UInt64? = nil
        for i in sorted {
            if let p = prevEnd, vmas[i].start > p {
                let gap = Double(vmas[i].start - p)
                pieces.append(gap > mapped / 4 ? (-1, nil, true) : (gap, nil, false))
            }
            pieces.append((Double(vmas[i].end &- vmas[i].start), i, false))
            prevEnd = max(prevEnd ?? 0, vmas[i].end)
        }
        let breaks = Double(pieces.filter { $0.2 }.count) * breakWidth
        let scaled = pieces.filter { !$0.2 }.reduce(0.0) { $0 + $1.0 }
        let solid = Double(pieces.filter { !$0.2 }.count)
        let scale = max(0, width - breaks - solid * minWidth) / max(scaled, 1)
        var x = 0.0
        var out: [(x: Double, w: Double, vma: Int?, broken: Bool)] = []
        for p in pieces {
            let w = p.2 ? breakWidth : minWidth + p.0 * scale
            out.append((x, w, p.1, p.2))
            x += w
        }
        return out
    }

    /// Returns the address space of `p` as a band of its VMAs (to scale, broken across big holes),
    /// labelled with permissions and names.
    public static func addressSpace(_ p: ProcessSnapshot) -> String {
        let w = 900.0, h = 70.0
        var s = "<svg class=\"band\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" width=\"\(Int(w))\" height=\"\(Int(h))\">"
        for piece in bandLayout(p.vmas, width: w) {
            if piece.broken {
                s += "<text x=\"\(piece.x + piece.w / 2)\" y=\"30\" text-anchor=\"middle\" class=\"break\">≈</text>"
            } else if let i = piece.vma {
                let v = p.vmas[i]
                let colour = v.perms.contains("x") ? "#f3a712" : v.perms.contains("w") ? "#e4572e" : v.perms.hasPrefix("r") ? "#669bbc" : "#cccccc"
                s += "<rect x=\"\(String(format: "%.1f", piece.x))\" y=\"10\" width=\"\(String(format: "%.1f", piece.w))\" height=\"30\" fill=\"\(colour)\" stroke=\"#333\" stroke-width=\"0.5\">"
                s += "<title>\(hex(v.start))-\(hex(v.end)) \(v.perms) \(htmlEscape(v.name)) (\((v.end &- v.start) >> 10) kB, \(v.rssPages) pages resident)</title></rect>"
                if piece.w > 90 {
                    s += "<text x=\"\(String(format: "%.1f", piece.x + 2))\" y=\"54\" class=\"vmalabel\">\(v.perms) \(htmlEscape(String(v.name.split(separator: "/").last ?? "")))</text>"
                }
            }
        }
        return s + "</svg>"
    }

    /// Returns physical memory as a grid of cells coloured by use, with zone boundaries.
    public static func physMap(_ phys: PhysSnapshot) -> String {
        let cols = 64, cell = 9.0
        let rows = (phys.cells.count + cols - 1) / cols
        let w = Double(cols) * cell, h = Double(rows) * cell
        var s = "<svg id=\"physmap\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" width=\"\(Int(w))\" height=\"\(Int(h))\">"
        let colour = Dictionary(uniqueKeysWithValues: useColours.map { ($0.key, $0.colour) })
        for (i, c) in phys.cells.enumerated() {
            s += "<rect x=\"\(Double(i % cols) * cell)\" y=\"\(Double(i / cols) * cell)\" width=\"\(cell - 1)\" height=\"\(cell - 1)\" fill=\"\(colour[String(c)] ?? "#000")\"/>"
        }
        for z in phys.zones where z.startPFN > 0 {
            let i = Int(z.startPFN) / max(1, phys.framesPerCell)
            s += "<rect x=\"\(Double(i % cols) * cell)\" y=\"\(Double(i / cols) * cell)\" width=\"2\" height=\"\(cell)\" fill=\"#000\"><title>\(z.name) starts</title></rect>"
        }
        return s + "</svg>"
    }

    /// Returns the buddy free lists of every zone as bars per order (nr_free, log scale).
    public static func buddy(_ zones: [ZoneSnapshot]) -> String {
        let rowH = 18.0, w = 640.0
        let h = Double(zones.count) * (rowH * 1.6) + 24
        var s = "<svg id=\"buddy\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" width=\"\(Int(w))\" height=\"\(Int(h))\">"
        for o in 0..<NR_PAGE_ORDERS { s += "<text x=\"\(90 + Double(o) * 48 + 20)\" y=\"12\" text-anchor=\"middle\" class=\"axis\">\(o)</text>" }
        for (zi, z) in zones.enumerated() {
            let y = 20 + Double(zi) * rowH * 1.6
            s += "<text x=\"0\" y=\"\(y + 13)\" class=\"axis\">\(htmlEscape(z.name))</text>"
            for (o, n) in z.freeByOrder.enumerated() {
                let bar = n > 0 ? min(rowH, 3 + log2(Double(n) + 1) * 2) : 0
                s += "<rect x=\"\(90 + Double(o) * 48)\" y=\"\(y + rowH - bar)\" width=\"40\" height=\"\(bar)\" fill=\"#2a9d8f\"><title>\(z.name) order \(o): \(n) free blocks</title></rect>"
                s += "<text x=\"\(90 + Double(o) * 48 + 20)\" y=\"\(y + rowH + 10)\" text-anchor=\"middle\" class=\"num\">\(n)</text>"
            }
        }
        return s + "</svg>"
    }

    /// "0x7f00…" of `v`.
    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
}

/// Builds the HTML report of a recording.
public enum Report {
    /// Returns the whole report of `r`: summary, timelines, the final state's views and the
    /// transcript (the first `maxEvents` events).
    public static func html(_ r: Recording, maxEvents: Int = 2000) -> String {
        let t = r.timeline(maxPoints: 600)
        let last = r.snapshot(event: r.events.count - 1, pid: nil, va: nil)
        var b = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><title>mmsim report: \(htmlEscape(r.file))</title>\n"
        b += "<style>\(css)</style></head><body>\n"
        b += "<h1>mmsim report: \(htmlEscape(r.file))</h1>\n"
        b += "<p id=\"summary\">\(r.events.count) events, exit status \(r.exitStatus)"
        if let s = r.stoppedEarly { b += ", \(htmlEscape(s))" }
        b += ".</p>\n"
        if !r.diagnostics.isEmpty { b += "<pre class=\"diag\">\(htmlEscape(r.diagnostics))</pre>\n" }
        b += "<h2>Timelines</h2>\n<div class=\"charts\">\n"
        let pids = t.rss.keys.sorted { (Int($0) ?? 0) < (Int($1) ?? 0) }
        b += SVGCharts.lineChart(id: "chart-rss", title: "RSS per process", unit: "kB",
                                 series: pids.map { ("\(t.processes[$0] ?? $0) (\($0))", t.rss[$0]!.map { Double($0) }) }) + "\n"
        b += SVGCharts.lineChart(id: "chart-free", title: "Free and available memory", unit: "kB",
                                 series: [("free", t.freeKB.map { Double($0) }), ("available", t.availableKB.map { Double($0) })]) + "\n"
        b += SVGCharts.lineChart(id: "chart-faults", title: "Page faults (cumulative)", unit: "",
                                 series: [("pgfault", t.faults.map { Double($0) }), ("pgmajfault", t.majorFaults.map { Double($0) })]) + "\n"
        b += SVGCharts.lineChart(id: "chart-swap", title: "Swap traffic (cumulative pages)", unit: "",
                                 series: [("pswpin+pswpout", t.swapPages.map { Double($0) })]) + "\n"
        b += SVGCharts.lineChart(id: "chart-tlb", title: "TLB miss rate (STLB misses per L1 TLB lookup)", unit: "%",
                                 series: [("miss rate", t.tlbMissRate)]) + "\n"
        b += "</div>\n"
        if let s = last {
            b += "<h2>After the last event (\(s.event + 1))</h2>\n<h3>free</h3>\n<pre id=\"free\">\(htmlEscape(s.free.text))</pre>\n"
            b += "<h3>Address spaces</h3>\n"
            for p in s.processes {
                b += "<h4>\(htmlEscape(p.name)) (pid \(p.pid), \(htmlEscape(p.state)), RSS \(p.rssKB) kB)</h4>\n"
                if !p.vmas.isEmpty { b += SVGCharts.addressSpace(p) + "\n" }
            }
            b += "<h3>Physical memory</h3>\n<p>\(s.phys.frames) frames, \(s.phys.framesPerCell) per cell. "
            b += useColours.map { "<span class=\"key\" style=\"background:\($0.colour)\"></span>\($0.name) \(s.phys.counts[$0.key] ?? 0)" }.joined(separator: " ")
            b += "</p>\n" + SVGCharts.physMap(s.phys) + "\n<h3>Buddy free lists (nr_free per order)</h3>\n" + SVGCharts.buddy(s.phys.zones) + "\n"
            b += "<h3>TLBs</h3>\n<table><tr><th>CPU</th><th>L1d</th><th>L1i</th><th>STLB</th></tr>"
            for c in s.cpus {
                b += "<tr><td>\(c.id)</td>" + ["L1d", "L1i", "STLB"].map { n in "<td>\(c.entries.filter { $0.tlb == n }.count) / \(c.capacity[n] ?? 0)</td>" }.joined() + "</tr>"
            }
            b += "</table>\n"
            if let slab = s.slab {
                b += "<h3>Slab caches</h3>\n<table id=\"slab\"><tr><th>cache</th><th>active objs</th><th>objs</th><th>objsize</th><th>objs/slab</th><th>pages/slab</th><th>active slabs</th><th>slabs</th></tr>"
                for c in slab {
                    b += "<tr><td>\(htmlEscape(c.name))</td>" + [c.activeObjs, c.numObjs, c.objSize, c.objPerSlab, c.pagesPerSlab, c.activeSlabs, c.numSlabs].map { "<td>\($0)</td>" }.joined() + "</tr>"
                }
                b += "</table>\n"
            }
            if let lru = s.lru {
                let names = ["inactive_anon", "active_anon", "inactive_file", "active_file", "unevictable"]
                b += "<h3>LRU lists</h3>\n<table id=\"lru\"><tr>" + names.map { "<th>\($0)</th>" }.joined() + "</tr><tr>"
                    + lru.sizes.map { "<td>\($0)</td>" }.joined() + "</tr></table>\n"
            }
            if let swap = s.swap {
                b += "<h3>Swap areas</h3>\n"
                if swap.isEmpty { b += "<p id=\"swap\">No swap area enabled.</p>\n" } else {
                    b += "<table id=\"swap\"><tr><th>area</th><th>type</th><th>priority</th><th>used slots</th><th>slots</th></tr>"
                    for a in swap { b += "<tr><td>\(htmlEscape(a.path))</td><td>\(a.kind)</td><td>\(a.priority)</td><td>\(a.used)</td><td>\(a.total)</td></tr>" }
                    b += "</table>\n"
                }
            }
            if !s.notModelled.isEmpty { b += "<p>Not modelled yet: \(s.notModelled.joined(separator: ", ")).</p>\n" }
        }
        b += "<h2>Events</h2>\n<ol class=\"events\">\n"
        for e in r.events.prefix(maxEvents) {
            b += "<li><code>\(e.line): \(htmlEscape(e.text))</code>"
            let lines = e.output + e.kernelLog
            if !lines.isEmpty { b += "<pre>\(htmlEscape(lines.joined(separator: "\n")))</pre>" }
            b += "</li>\n"
        }
        b += "</ol>\n"
        if r.events.count > maxEvents { b += "<p>(\(r.events.count - maxEvents) more events not listed)</p>\n" }
        return b + "</body></html>\n"
    }

    static let css = """
    body{font-family:sans-serif;margin:1em 2em;color:#222}svg{background:#fafafa;border:1px solid #ddd;margin:4px}
    .title{font-size:12px;font-weight:bold}.axis,.num,.legend,.vmalabel{font-size:10px}.break{font-size:18px}
    pre{background:#f4f4f4;padding:4px}.key{display:inline-block;width:10px;height:10px;margin:0 3px 0 10px}
    table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px}.events li{margin:2px 0}
    """
}
