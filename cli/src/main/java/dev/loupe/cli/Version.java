package dev.loupe.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine.IVersionProvider;

/** {@code ./loupe --version}: Loupe's version (from the build), the Java running it. */
final class Version implements IVersionProvider {

    @Override
    public String[] getVersion() {
        return new String[] {
            "loupe " + loupeVersion(), "Java " + Runtime.version() + " (" + System.getProperty("java.vendor") + ")"
        };
    }

    static String loupeVersion() {
        Properties p = new Properties();
        try (InputStream in = Version.class.getResourceAsStream("version.properties")) {
            if (in != null) p.load(in);
        } catch (IOException e) {
            // no version resource: say so below
        }
        return p.getProperty("version", "(unknown version)");
    }
}
