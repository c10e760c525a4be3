package dev.loupe.store.export;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.AtomicFileWriter;
import dev.loupe.engine.io.Folders;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.store.StoreDType;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.read.ActivationStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.function.LongFunction;
import java.util.stream.Stream;

/**
 * Exports a complete store for Python, all at once or not at all:
 * <pre>{@code
 * try (ActivationStore store = ActivationStore.open(Path.of("acts"))) {
 *     StoreExport.export(store, Path.of("acts-saelens"), ExportFormat.SAELENS, ExportOptions.defaults(),
 *             total -> ProgressBar.onStderr("export", 0, total, "bytes"));
 * }
 * }</pre>
 * The files are written into a hidden sibling folder {@code .<out>.partial-<pid>}, each forced to
 * disk, and the folder is renamed to {@code out} in one atomic rename (then the parent is forced).
 * So {@code out} either does not exist or is complete: a killed export leaves only the hidden
 * folder (removed by the next export to the same place once its process is gone), a failed one
 * (disk full) removes it. {@code out} may exist if it is an empty folder.
 *
 * <p>Activations export as float32 ({@code datasets}' and numpy's default); with
 * {@link ExportOptions#keepDType()} an f16 store stays float16. bf16 has no Arrow, Parquet or numpy
 * type: it always exports as float32, which holds every bf16 value exactly.
 */
public final class StoreExport {
    private StoreExport() {}

    /**
     * Writes {@code out} from {@code store}.
     *
     * @param progress makes the progress bar, given the total: activation bytes to write
     * @throws LoupeException for an unknown hook, an incomplete store, an {@code out} that exists and
     *     is not an empty folder, or a write error (then nothing is left at {@code out})
     */
    public static ExportResult export(
            ActivationStore store,
            Path out,
            ExportFormat format,
            ExportOptions options,
            LongFunction<ProgressBar> progress) {
        return export(store, out, format, options, ExportPlan.Buffers.DEFAULT, progress);
    }

    /** With other buffer sizes (tests use small ones to get many batches, row groups and pages). */
    static ExportResult export(
            ActivationStore store,
            Path out,
            ExportFormat format,
            ExportOptions options,
            ExportPlan.Buffers buffers,
            LongFunction<ProgressBar> progress) {
        long start = System.nanoTime();
        List<String> notes = new ArrayList<>();
        ExportPlan plan = plan(store, format, options, notes).withBuffers(buffers);
        Path target = out.toAbsolutePath().normalize();
        checkTarget(out, target);
        Path parent = target.getParent();
        Path temp = parent.resolve("." + target.getFileName() + ".partial-"
                + ProcessHandle.current().pid());
        List<Path> files;
        try {
            Files.createDirectories(parent);
            removeAbandoned(parent, target.getFileName().toString());
            Files.createDirectory(temp);
            try (ProgressBar bar = progress.apply(plan.activationBytes())) {
                List<Path> inTemp =
                        switch (format) {
                            case NPY -> NpyExport.export(
                                    store, temp, plan.hooks(), plan.dtype().equals("float16"), bar);
                            case SAELENS -> SaeLensExport.write(plan, temp, bar);
                            case PARQUET -> ParquetExport.write(plan, temp, bar);
                        };
                files = inTemp.stream()
                        .map(p -> target.resolve(p.getFileName()))
                        .toList();
            }
            AtomicFileWriter.syncDirectory(temp);
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
            AtomicFileWriter.syncDirectory(parent);
        } catch (IOException | UncheckedIOException | LoupeException e) {
            Folders.deleteTree(temp);
            String why = e instanceof DirectoryNotEmptyException || e instanceof FileAlreadyExistsException
                    ? "it appeared while exporting and is not empty"
                    : String.valueOf(e.getMessage());
            throw new LoupeException(
                    out + ": export failed (" + why + "); nothing was left there (the partial files were removed)", e);
        } catch (RuntimeException | Error e) {
            Folders.deleteTree(temp);
            throw e;
        }
        long bytes = 0;
        for (Path f : files) bytes += sizeOf(f);
        return new ExportResult(target, files, bytes, plan.dtype(), (System.nanoTime() - start) / 1e9, notes);
    }

    /** Checks the store and options, and settles hooks and dtype. */
    static ExportPlan plan(ActivationStore store, ExportFormat format, ExportOptions options, List<String> notes) {
        StoreManifest m = store.manifest();
        if (!m.complete())
            throw new LoupeException(store.dir() + ": the store is incomplete (its harvest stopped after "
                    + m.sequences() + " sequences); run the same harvest command again to finish it, then export");
        List<String> hooks = options.hooks().isEmpty() ? store.hooks() : options.hooks();
        if (hooks.isEmpty()) throw new LoupeException("export: no hooks given");
        var seen = new HashSet<String>();
        for (String h : hooks) {
            store.d(h); // unknown hook: an error naming the closest stored ones
            if (!seen.add(h)) throw new LoupeException("export: hook " + h + " is listed twice");
        }
        if (format == ExportFormat.SAELENS && options.rows() == ExportOptions.Rows.TOKENS)
            throw new LoupeException("export: --rows tokens applies to --format parquet; the saelens layout has one"
                    + " row per sequence ([context, d] per hook, as SAELens reads it)");
        StoreDType stored = store.dtype();
        String dtype = options.keepDType() && stored == StoreDType.F16 ? "float16" : "float32";
        if (options.keepDType() && stored == StoreDType.BF16)
            notes.add("the store is bf16, which Arrow, Parquet and numpy have no type for: exported as float32"
                    + " (exactly the bf16 values)");
        return new ExportPlan(store, hooks, dtype, options.rows(), options.shardBytes());
    }

    private static void checkTarget(Path out, Path target) {
        if (target.getParent() == null) throw new LoupeException(out + ": cannot export to the file system root");
        if (!Files.exists(target)) return;
        if (!Files.isDirectory(target))
            throw new LoupeException(out + ": exists and is not a folder; choose a new output folder");
        try (Stream<Path> s = Files.list(target)) {
            if (s.findAny().isPresent())
                throw new LoupeException(
                        out
                                + ": exists and is not empty; choose a new output folder (an export never mixes with other files)");
        } catch (IOException e) {
            throw new LoupeException(out + ": cannot read the output folder: " + e.getMessage(), e);
        }
    }

    /** Hidden partial folders of earlier exports to the same place whose process is gone (killed). */
    private static void removeAbandoned(Path parent, String name) throws IOException {
        String prefix = "." + name + ".partial-";
        try (Stream<Path> s = Files.list(parent)) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                if (!n.startsWith(prefix)) continue;
                long pid;
                try {
                    pid = Long.parseLong(n.substring(prefix.length()));
                } catch (NumberFormatException e) {
                    continue;
                }
                if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                    if (pid == ProcessHandle.current().pid()) Folders.deleteTree(p);
                    else
                        throw new LoupeException(
                                parent.resolve(name) + ": another export (pid " + pid + ") is writing it");
                } else Folders.deleteTree(p);
            }
        }
    }

    private static long sizeOf(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            throw new LoupeException(p + ": cannot read its size: " + e.getMessage(), e);
        }
    }
}
