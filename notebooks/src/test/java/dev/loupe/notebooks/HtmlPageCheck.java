package dev.loupe.notebooks;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Opens an HTML page in headless Chromium (no network, fresh profile) and reports what went wrong:
 * Loupe plots without an SVG (Plotly did not draw them) and JavaScript errors. Errors are recorded by
 * a script put first in the page, which catches uncaught errors, rejected promises and console.error.
 */
final class HtmlPageCheck {

    private static final String RECORDER =
            """
            <script>(function(){var errs=[];function rec(m){errs.push(String(m));
            document.documentElement.setAttribute('data-loupe-js-errors',encodeURIComponent(JSON.stringify(errs)));}
            window.addEventListener('error',function(e){if(e.message)rec(e.message+' at '+(e.filename||'')+':'+(e.lineno||''));});
            window.addEventListener('unhandledrejection',function(e){rec('unhandled promise rejection: '+e.reason);});
            var ce=console.error;console.error=function(){rec(Array.prototype.join.call(arguments,' '));return ce.apply(console,arguments);};})();</script>
            """;

    record Report(int plots, List<String> plotsWithoutSvg, List<String> jsErrors, String chromiumLog, String dom) {
        boolean ok() {
            return plotsWithoutSvg.isEmpty() && jsErrors.isEmpty();
        }
    }

    static Report check(String chromium, Path html, Path workDir) throws IOException {
        String page = Files.readString(html, StandardCharsets.UTF_8);
        int head = page.indexOf("<head>");
        String instrumented =
                head >= 0 ? page.substring(0, head + 6) + RECORDER + page.substring(head + 6) : RECORDER + page;
        Path checked = workDir.resolve(html.getFileName().toString().replace(".html", ".checked.html"));
        Files.writeString(checked, instrumented, StandardCharsets.UTF_8);
        Path profile = Files.createTempDirectory(workDir, "chromium-profile");
        Path dom = workDir.resolve(html.getFileName() + ".dom.html");
        JupyterTools.Result r = JupyterTools.run(
                List.of(
                        "sh",
                        "-c",
                        String.join(" ", headless(chromium, profile)) + " --dump-dom '" + checked.toUri() + "' > '"
                                + dom + "'"),
                Map.of(),
                180);
        if (r.exitCode() != 0 || !Files.exists(dom)) {
            throw new IOException("chromium failed (" + r.exitCode() + "):\n" + r.output());
        }
        String rendered = Files.readString(dom, StandardCharsets.UTF_8);
        List<String> missing = new ArrayList<>();
        Matcher m = Pattern.compile("<div id=\"(loupe-plot-[0-9a-f-]+)\"").matcher(rendered);
        List<Integer> starts = new ArrayList<>();
        List<String> ids = new ArrayList<>();
        while (m.find()) {
            starts.add(m.start());
            ids.add(m.group(1));
        }
        for (int i = 0; i < ids.size(); i++) {
            // A drawn plot holds Plotly's <svg class="main-svg"> before the plot's own <script> element.
            int end = rendered.indexOf("<script", starts.get(i));
            String body = rendered.substring(starts.get(i), end < 0 ? rendered.length() : end);
            if (!body.contains("main-svg")) missing.add(ids.get(i));
        }
        List<String> errors = new ArrayList<>();
        Matcher e = Pattern.compile("data-loupe-js-errors=\"([^\"]*)\"").matcher(rendered);
        if (e.find()) errors.add(java.net.URLDecoder.decode(e.group(1), StandardCharsets.UTF_8));
        return new Report(ids.size(), missing, errors, r.output(), rendered);
    }

    /** Headless Chromium without network, a fresh profile, 15 s of virtual time for the page's scripts. */
    private static List<String> headless(String chromium, Path profile) {
        return List.of(
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-quic",
                "--no-first-run",
                "--disable-component-update",
                "--disable-sync",
                "--user-data-dir=" + profile,
                "--virtual-time-budget=15000");
    }

    /** A PNG of the page as headless Chromium draws it in a {@code width} x {@code height} window at scale 1. */
    static Path screenshot(String chromium, Path html, Path workDir, int width, int height) throws IOException {
        Path profile = Files.createTempDirectory(workDir, "chromium-profile");
        Path png = workDir.resolve(html.getFileName() + ".png");
        List<String> cmd = new ArrayList<>(headless(chromium, profile));
        cmd.addAll(List.of(
                "--hide-scrollbars",
                "--force-device-scale-factor=1",
                "--window-size=" + width + "," + height,
                "--screenshot=" + png,
                html.toUri().toString()));
        JupyterTools.Result r = JupyterTools.run(cmd, Map.of(), 180);
        if (r.exitCode() != 0 || !Files.exists(png)) {
            throw new IOException("chromium screenshot failed (" + r.exitCode() + "):\n" + r.output());
        }
        return png;
    }
}
