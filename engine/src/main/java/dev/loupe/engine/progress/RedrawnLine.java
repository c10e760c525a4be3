package dev.loupe.engine.progress;

import java.io.PrintStream;

/** One terminal line rewritten in place with {@code \r}, padded so a shorter line hides the longer one. */
public final class RedrawnLine {
    private final PrintStream out;
    private int lastLength;

    public RedrawnLine(PrintStream out) {
        this.out = out;
    }

    public void draw(String line) {
        int pad = Math.max(0, lastLength - line.length());
        out.print("\r" + line + " ".repeat(pad));
        out.flush();
        lastLength = line.length();
    }
}
