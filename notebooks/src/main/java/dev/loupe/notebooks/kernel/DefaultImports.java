package dev.loupe.notebooks.kernel;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/**
 * The imports every cell starts with: the JDK basics, ND4J, Tablesaw, every public Loupe package
 * found on the classpath (so modules that arrive later are imported without a change here), and the
 * notebook functions ({@code display}, {@code attention}, {@code heatmap}, ...).
 */
final class DefaultImports {

    /** Loupe packages (and their subpackages) that are tools, not notebook API. */
    private static final Set<String> EXCLUDED =
            Set.of("dev.loupe.cli", "dev.loupe.bench", "dev.loupe.notebooks.kernel", "dev.loupe.notebooks.launch");

    private DefaultImports() {}

    static List<String> forClasspath(List<String> classpath) {
        List<String> imports = new ArrayList<>(List.of(
                "import java.util.*;",
                "import java.util.function.*;",
                "import java.util.stream.*;",
                "import java.nio.file.*;",
                "import org.nd4j.linalg.api.ndarray.INDArray;",
                "import org.nd4j.linalg.api.buffer.DataType;",
                "import org.nd4j.linalg.factory.Nd4j;",
                "import org.nd4j.linalg.ops.transforms.Transforms;",
                "import static org.nd4j.linalg.indexing.NDArrayIndex.*;",
                "import tech.tablesaw.api.*;"));
        for (String pkg : loupePackages(classpath)) imports.add("import " + pkg + ".*;");
        imports.add("import static dev.loupe.notebooks.Notebook.*;");
        return imports;
    }

    /** Packages under dev.loupe with at least one public top-level class, in Loupe jars or class folders. */
    static Set<String> loupePackages(List<String> classpath) {
        Set<String> packages = new TreeSet<>();
        for (String entry : classpath) {
            Path path = Path.of(entry);
            try {
                if (Files.isDirectory(path)) {
                    Path root = path.resolve("dev/loupe");
                    if (!Files.isDirectory(root)) continue;
                    try (Stream<Path> walk = Files.walk(root)) {
                        walk.filter(p -> p.toString().endsWith(".class"))
                                .map(p -> path.relativize(p).toString().replace(File.separatorChar, '/'))
                                .forEach(name -> addPackage(packages, name));
                    }
                } else if (path.getFileName() != null
                        && path.getFileName().toString().startsWith("loupe-")
                        && entry.endsWith(".jar")
                        && Files.isRegularFile(path)) {
                    try (JarFile jar = new JarFile(path.toFile())) {
                        jar.stream().map(e -> e.getName()).forEach(name -> addPackage(packages, name));
                    }
                }
            } catch (IOException e) {
                // an unreadable entry contributes no imports; the compiler reports it if it is used
            }
        }
        return packages;
    }

    private static void addPackage(Set<String> packages, String classFile) {
        if (!classFile.startsWith("dev/loupe/")
                || !classFile.endsWith(".class")
                || classFile.contains("$")
                || classFile.endsWith("package-info.class")
                || classFile.endsWith("module-info.class")) return;
        String pkg = classFile.substring(0, classFile.lastIndexOf('/')).replace('/', '.');
        for (String excluded : EXCLUDED) if (pkg.equals(excluded) || pkg.startsWith(excluded + ".")) return;
        packages.add(pkg);
    }
}
