package dev.loupe.cli;

import dev.loupe.engine.LoupeException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** {@code --name value} and {@code --flag} options of one command; unknown options are errors. */
public final class Args {
    private final String command;
    private final Map<String, String> values = new HashMap<>();
    private final Set<String> flags = new HashSet<>();

    public Args(String command, String[] argv, int from, Set<String> valueOptions, Set<String> flagOptions) {
        this.command = command;
        for (int i = from; i < argv.length; i++) {
            String a = argv[i];
            if (!a.startsWith("--")) throw usage("unexpected argument '" + a + "'");
            String name = a.substring(2);
            if (flagOptions.contains(name)) flags.add(name);
            else if (valueOptions.contains(name)) {
                if (i + 1 >= argv.length) throw usage("--" + name + " needs a value");
                values.put(name, argv[++i]);
            } else throw usage("unknown option --" + name + " (known: " + known(valueOptions, flagOptions) + ")");
        }
    }

    private static String known(Set<String> v, Set<String> f) {
        return String.join(
                ", ",
                new java.util.TreeSet<>(List.copyOf(concat(v, f)))
                        .stream().map(s -> "--" + s).toList());
    }

    private static Set<String> concat(Set<String> a, Set<String> b) {
        Set<String> s = new HashSet<>(a);
        s.addAll(b);
        return s;
    }

    public LoupeException usage(String message) {
        return new LoupeException(command + ": " + message);
    }

    public String required(String name) {
        String v = values.get(name);
        if (v == null) throw usage("--" + name + " is required");
        return v;
    }

    public String get(String name, String fallback) {
        return values.getOrDefault(name, fallback);
    }

    public boolean flag(String name) {
        return flags.contains(name);
    }

    /** The options given, except {@code excluded}, as {@code " --name value"} in name order (for a reproducible command line). */
    public String describeExcept(Set<String> excluded) {
        StringBuilder sb = new StringBuilder();
        new java.util.TreeMap<>(values).forEach((k, v) -> {
            if (!excluded.contains(k)) sb.append(" --").append(k).append(' ').append(v);
        });
        new java.util.TreeSet<>(flags).forEach(f -> {
            if (!excluded.contains(f)) sb.append(" --").append(f);
        });
        return sb.toString();
    }

    public int integer(String name, int fallback) {
        String v = values.get(name);
        if (v == null) return fallback;
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw usage("--" + name + " must be an integer, got '" + v + "'");
        }
    }

    public double number(String name, double fallback) {
        String v = values.get(name);
        if (v == null) return fallback;
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw usage("--" + name + " must be a number, got '" + v + "'");
        }
    }

    /** Space- or comma-separated token ids. */
    public int[] tokens(String name) {
        String v = required(name).trim();
        if (v.isEmpty()) throw usage("--" + name + " is empty");
        String[] parts = v.split("[\\s,]+");
        int[] ids = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                ids[i] = Integer.parseInt(parts[i]);
            } catch (NumberFormatException e) {
                throw usage("--" + name + ": '" + parts[i] + "' is not a token id");
            }
        }
        return ids;
    }
}
