package dev.loupe.notebooks.kernel;

import dev.loupe.engine.LoupeException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Resolves Maven coordinates to jar paths with the user's own Maven (settings, mirrors and
 * {@code ~/.m2}): it writes a throwaway pom naming the artifacts and asks the dependency plugin for
 * their runtime classpath. Offline first, so that anything already in {@code ~/.m2} resolves
 * without a network; then online, unless {@code LOUPE_MAVEN_OFFLINE=true}.
 */
final class MavenDependencies {

    private static final Pattern COORDINATE = Pattern.compile("[A-Za-z0-9_.\\-]+:[A-Za-z0-9_.\\-]+:[A-Za-z0-9_.\\-+]+");
    /** The same plugin version the Loupe build uses, so it is in ~/.m2 after the build. */
    private static final String PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:build-classpath";

    private static final long TIMEOUT_MINUTES = 10;

    private MavenDependencies() {}

    static List<String> resolve(List<String> coordinates) {
        if (coordinates.isEmpty()) {
            throw new LoupeException("%maven: expected one or more coordinates group:artifact:version");
        }
        StringBuilder deps = new StringBuilder();
        for (String c : coordinates) {
            if (!COORDINATE.matcher(c).matches()) {
                throw new LoupeException(
                        "%maven: '" + c + "' is not a Maven coordinate; expected group:artifact:version"
                                + " (e.g. org.apache.commons:commons-math3:3.6.1)");
            }
            String[] p = c.split(":");
            deps.append("<dependency><groupId>")
                    .append(p[0])
                    .append("</groupId><artifactId>")
                    .append(p[1])
                    .append("</artifactId><version>")
                    .append(p[2])
                    .append("</version></dependency>");
        }
        Path dir = null;
        try {
            dir = Files.createTempDirectory("loupe-maven");
            Files.writeString(
                    dir.resolve("pom.xml"),
                    """
                    <project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
                    <groupId>dev.loupe.notebook</groupId><artifactId>cell-dependencies</artifactId><version>0</version>
                    <dependencies>%s</dependencies></project>
                    """
                            .formatted(deps));
            Path out = dir.resolve("classpath.txt");
            String offlineLog = run(dir, out, true);
            if (offlineLog != null && !"true".equalsIgnoreCase(System.getenv("LOUPE_MAVEN_OFFLINE"))) {
                String onlineLog = run(dir, out, false);
                if (onlineLog != null) throw failure(coordinates, onlineLog);
            } else if (offlineLog != null) {
                throw failure(coordinates, offlineLog);
            }
            String cp = Files.readString(out).trim();
            return cp.isEmpty() ? List.of() : Arrays.asList(cp.split(java.io.File.pathSeparator));
        } catch (IOException e) {
            throw new LoupeException("%maven: could not run Maven in " + dir + ": " + e.getMessage(), e);
        } finally {
            if (dir != null) deleteQuietly(dir);
        }
    }

    private static LoupeException failure(List<String> coordinates, String log) {
        String errors = log.lines()
                .filter(l -> l.contains("ERROR"))
                .limit(5)
                .reduce((a, b) -> a + "\n" + b)
                .orElse(log);
        return new LoupeException("%maven: Maven could not resolve " + String.join(" ", coordinates) + ":\n" + errors);
    }

    /** Runs Maven; returns null on success, else its output. */
    private static String run(Path dir, Path out, boolean offline) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(
                mavenExecutable(), "-B", "-q", "-f", dir.resolve("pom.xml").toString()));
        if (offline) cmd.add("-o");
        cmd.addAll(List.of(PLUGIN, "-Dmdep.outputFile=" + out, "-Dmdep.includeScope=runtime"));
        Path log = dir.resolve(offline ? "offline.log" : "online.log");
        Process p;
        try {
            p = new ProcessBuilder(cmd)
                    .directory(dir.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .start();
        } catch (IOException e) {
            throw new LoupeException(
                    "%maven: cannot start Maven ('mvn' on PATH, or set MAVEN_CMD): " + e.getMessage(), e);
        }
        try {
            if (!p.waitFor(TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                return "Maven did not finish within " + TIMEOUT_MINUTES + " minutes";
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new LoupeException("%maven: interrupted");
        }
        return p.exitValue() == 0 && Files.exists(out) ? null : Files.readString(log, StandardCharsets.UTF_8);
    }

    private static String mavenExecutable() {
        String cmd = System.getenv("MAVEN_CMD");
        return cmd != null && !cmd.isBlank() ? cmd : "mvn";
    }

    private static void deleteQuietly(Path dir) {
        try (var walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder())
                    .forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a temp folder left behind is harmless
        }
    }
}
