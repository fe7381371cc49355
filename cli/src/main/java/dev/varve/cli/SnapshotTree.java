package dev.varve.cli;

import dev.varve.engine.SnapshotInfo;
import dev.varve.engine.VolumeInfo;
import java.io.PrintStream;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The snapshot tree as {@code varve list --tree} draws it: every snapshot under its parent
 * (the previous snapshot on its line, or the one a head was reverted to or cloned from),
 * and every volume head under the snapshot it stands on, marked "you are here". Drawn with
 * ASCII so any terminal shows it; walked without recursion so deep chains cannot overflow.
 */
final class SnapshotTree {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss")
            .withZone(ZoneId.systemDefault());

    /** A snapshot or a volume head. */
    private record Node(String label, long created, List<Node> children) {
    }

    private final List<Node> roots = new ArrayList<>();

    SnapshotTree(List<VolumeInfo> volumes, List<SnapshotInfo> snapshots) {
        Map<String, Node> byName = new HashMap<>();
        for (SnapshotInfo s : snapshots) {
            byName.put(s.fullName(), new Node(snapshotLabel(s), s.createdMillis(), new ArrayList<>()));
        }
        for (SnapshotInfo s : snapshots) {
            Node parent = s.parent() == null ? null : byName.get(s.parent());
            (parent == null ? roots : parent.children()).add(byName.get(s.fullName()));
        }
        Comparator<Node> byAge = Comparator.comparingLong(Node::created);
        for (Node n : byName.values()) {
            n.children().sort(byAge);
        }
        roots.sort(byAge);
        // heads after the snapshots on the same branch point, so "you are here" ends each list
        for (VolumeInfo v : volumes) {
            Node head = new Node(headLabel(v), Long.MAX_VALUE, List.of());
            Node at = v.position() == null ? null : byName.get(v.position());
            (at == null ? roots : at.children()).add(head);
        }
    }

    private static String snapshotLabel(SnapshotInfo s) {
        StringBuilder sb = new StringBuilder(s.fullName()).append("  ").append(time(s.createdMillis()));
        if (s.group() != null) {
            sb.append("  [group ").append(s.group()).append(']');
        }
        return sb.toString();
    }

    private static String headLabel(VolumeInfo v) {
        StringBuilder sb = new StringBuilder(v.name()).append("  <- you are here  (").append(ByteSize.format(v.size()));
        if (v.origin() != null) {
            sb.append(", clone of ").append(v.origin());
        }
        if (v.position() == null) {
            sb.append(", no snapshots");
        }
        return sb.append(')').toString();
    }

    static String time(long millis) {
        return TIME.format(Instant.ofEpochMilli(millis));
    }

    void print(PrintStream out) {
        for (String line : lines()) {
            out.println(line);
        }
    }

    List<String> lines() {
        record Line(Node node, String first, String rest) {
        }
        List<String> out = new ArrayList<>();
        Deque<Line> todo = new ArrayDeque<>();
        for (int i = roots.size() - 1; i >= 0; i--) {
            todo.push(new Line(roots.get(i), "", ""));
        }
        while (!todo.isEmpty()) {
            Line l = todo.pop();
            out.add(l.first() + l.node().label());
            List<Node> kids = l.node().children();
            for (int i = kids.size() - 1; i >= 0; i--) {
                boolean last = i == kids.size() - 1;
                todo.push(new Line(kids.get(i), l.rest() + (last ? "`-- " : "|-- "), l.rest() + (last ? "    " : "|   ")));
            }
        }
        return out;
    }
}
