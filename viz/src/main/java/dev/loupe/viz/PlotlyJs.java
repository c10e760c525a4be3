package dev.loupe.viz;

import dev.loupe.engine.LoupeException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * plotly.js, minified, from this jar ({@code dev/loupe/viz/plotly.min.js}: npm's plotly.js-dist-min, see
 * {@code plotly.properties}; no CDN, since machines running notebooks may have no internet), inlined into
 * the first figure a kernel session shows, so an exported notebook carries it once (4.6 MB).
 *
 * <p>The bundle is a UMD module: where require.js is loaded (the classic notebook, nbconvert's HTML
 * export) it would call the anonymous {@code define()}, which require.js rejects when not loaded by
 * require itself, and {@code window.Plotly} would never be set. So it runs inside a function whose
 * local {@code define}, {@code module} and {@code exports} are undefined, and takes its global path.
 */
public final class PlotlyJs {

    static final String BUNDLE = "/dev/loupe/viz/plotly.min.js";
    static final String PROPERTIES = "/dev/loupe/viz/plotly.properties";

    private static final AtomicBoolean SENT = new AtomicBoolean();
    private static volatile String script;

    private PlotlyJs() {}

    /** The version of the bundled plotly.js. */
    public static String version() {
        return properties().getProperty("version");
    }

    static Properties properties() {
        Properties p = new Properties();
        try (InputStream in = PlotlyJs.class.getResourceAsStream(PROPERTIES)) {
            if (in == null) throw new LoupeException(PROPERTIES + " is missing from the classpath: rebuild loupe-viz");
            p.load(in);
        } catch (IOException e) {
            throw new LoupeException("cannot read " + PROPERTIES + ": " + e.getMessage(), e);
        }
        return p;
    }

    /** The {@code <script>} that defines window.Plotly, whatever module loader the page has. */
    public static String scriptTag() {
        String s = script;
        if (s == null) {
            String bundle;
            try (InputStream in = PlotlyJs.class.getResourceAsStream(BUNDLE)) {
                if (in == null) {
                    throw new LoupeException(
                            "plotly.js not found on the classpath at " + BUNDLE + ": rebuild loupe-viz");
                }
                bundle = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new LoupeException("cannot read " + BUNDLE + ": " + e.getMessage(), e);
            }
            if (bundle.toLowerCase().contains("</script")) {
                throw new LoupeException(BUNDLE + " contains '</script' and cannot be inlined into HTML");
            }
            s = "<script type=\"text/javascript\">(function(define, module, exports){\n" + asciiOnly(bundle)
                    + "\n}).call(window);</script>\n";
            script = s;
        }
        return s;
    }

    /**
     * Non-ASCII characters (in plotly's strings, regular expressions and identifiers) as \\uXXXX escapes, so that
     * the script means the same in a page whatever encoding the page is read with.
     */
    static String asciiOnly(String js) {
        StringBuilder b = new StringBuilder(js.length() + 1024);
        for (int i = 0; i < js.length(); i++) {
            char c = js.charAt(i);
            if (c < 0x80) b.append(c);
            // A byte-order mark starting a line is whitespace between the concatenated modules; an
            // escape is not whitespace to JavaScript, so it becomes a space.
            else if (c == '\ufeff' && (i == 0 || js.charAt(i - 1) == '\n')) b.append(' ');
            else b.append(String.format("\\u%04x", (int) c));
        }
        return b.toString();
    }

    /** The script tag the first time in this kernel session, "" afterwards: plotly loads once per notebook. */
    public static String scriptTagOnce() {
        return SENT.compareAndSet(false, true) ? scriptTag() : "";
    }

    /** Makes the next figure carry the bundle again (a test, or a notebook whose outputs were cleared). */
    public static void reset() {
        SENT.set(false);
    }
}
