package dev.loupe.engine.progress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ProgressBarTest {

    @Test
    void showsFractionRateEtaAndStatus() {
        long[] now = {0};
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ProgressBar bar = new ProgressBar("train", 100, 1100, "steps", new PrintStream(bytes), () -> now[0]);
        now[0] = 2_000_000_000L;
        bar.update(300, "loss 2.314");
        // Resumed at 100: 200 steps in 2 s is 100 steps/s, 800 left is 8 s.
        assertEquals(
                "train  [#####...............]  27%  300/1100 steps  100 steps/s  ETA 0:08  loss 2.314",
                bar.line(now[0]));
        bar.close();
        String printed = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(printed.startsWith("\rtrain") && printed.endsWith("loss 2.314\n"), printed);
    }

    @Test
    void unknownTotalShowsCountAndRate() {
        long[] now = {0};
        ProgressBar bar =
                new ProgressBar("harvest", 0, 0, "tokens", new PrintStream(new ByteArrayOutputStream()), () -> now[0]);
        now[0] = 500_000_000L;
        bar.update(50, "");
        assertEquals("harvest  50 tokens  100 tokens/s", bar.line(now[0]));
        assertEquals("--:--", ProgressBar.eta(0, 10));
        assertEquals("1:00:00", ProgressBar.eta(1, 3600));
    }
}
