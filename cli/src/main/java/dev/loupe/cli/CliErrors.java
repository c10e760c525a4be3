package dev.loupe.cli;

import dev.loupe.engine.LoupeException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.CommandLine.ParameterException;

/**
 * picocli's parse errors as Loupe's one-line messages, prefixed with the command and naming the
 * option: {@code info: unknown option --verbose (known: --model)}, {@code info: --model is required},
 * {@code generate: --max-new-tokens must be an integer, got 'many'}.
 */
final class CliErrors {
    private CliErrors() {}

    static String describe(ParameterException e, String[] argv) {
        CommandSpec spec = e.getCommandLine().getCommandSpec();
        String where = spec.qualifiedName(" ");
        String prefix = spec.parent() == null ? "" : where.substring(where.indexOf(' ') + 1) + ": ";
        return prefix + message(e, spec, argv);
    }

    private static String message(ParameterException e, CommandSpec spec, String[] argv) {
        if (e instanceof CommandLine.UnmatchedArgumentException u) {
            String first = u.getUnmatched().isEmpty() ? "" : u.getUnmatched().get(0);
            if (!spec.subcommands().isEmpty() && !first.startsWith("-"))
                return "unknown command '" + first + "' (commands: "
                        + String.join(", ", spec.subcommands().keySet()) + "; see " + helpOf(spec) + ")";
            if (first.startsWith("-")) return "unknown option " + first + " (known: " + known(spec) + ")";
            return "unexpected argument '" + first + "'";
        }
        if (e instanceof CommandLine.MissingParameterException m) {
            // picocli checks required options before it reports unknown ones; a misspelt option is the news.
            for (String a : argv) {
                String name = a.contains("=") ? a.substring(0, a.indexOf('=')) : a;
                if (name.startsWith("--")
                        && name.length() > 2
                        && !spec.optionsMap().containsKey(name))
                    return "unknown option " + name + " (known: " + known(spec) + ")";
            }
            List<String> given = Arrays.asList(argv);
            List<String> required = new ArrayList<>();
            for (ArgSpec a : m.getMissing()) {
                if (a instanceof OptionSpec o && Arrays.stream(o.names()).anyMatch(given::contains))
                    return o.longestName() + " needs a value";
                required.add(name(a));
            }
            return String.join(", ", required) + (required.size() == 1 ? " is" : " are") + " required";
        }
        ArgSpec arg = e.getArgSpec();
        if (arg != null && e.getValue() != null && e.getMessage().startsWith("Invalid value for")) {
            Class<?> type = arg.type();
            String got = ", got '" + e.getValue() + "'";
            if (type == int.class || type == Integer.class || type == long.class || type == Long.class)
                return name(arg) + " must be an integer" + got;
            if (type == double.class || type == Double.class || type == float.class || type == Float.class)
                return name(arg) + " must be a number" + got;
            if (e.getCause() instanceof CommandLine.TypeConversionException c) return name(arg) + ": " + c.getMessage();
        }
        String m = e.getMessage();
        return m.isEmpty() ? m : Character.toLowerCase(m.charAt(0)) + m.substring(1);
    }

    /** A group called without one of its subcommands: {@code bench: expected 'bench forward', ... got nothing}. */
    static LoupeException missingSubcommand(CommandSpec group) {
        List<String> names = group.subcommands().keySet().stream()
                .filter(n -> !n.equals("help"))
                .map(n -> "'" + group.name() + " " + n + "'")
                .toList();
        String choices = names.size() == 1
                ? names.get(0)
                : String.join(", ", names.subList(0, names.size() - 1)) + " or " + names.get(names.size() - 1);
        return new LoupeException(group.name() + ": expected " + choices + ", got nothing (see " + helpOf(group) + ")");
    }

    private static String helpOf(CommandSpec spec) {
        return "./" + spec.qualifiedName(" ") + " --help";
    }

    private static String name(ArgSpec a) {
        return a instanceof OptionSpec o ? o.longestName() : ((PositionalParamSpec) a).paramLabel();
    }

    private static String known(CommandSpec spec) {
        return spec.options().stream()
                .filter(o -> !o.hidden())
                .map(OptionSpec::longestName)
                .sorted()
                .collect(Collectors.joining(", "));
    }
}
