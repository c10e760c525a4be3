package dev.loupe.engine.hub;

import dev.loupe.engine.LoupeException;
import java.util.regex.Pattern;

/**
 * A Hugging Face model repository at one revision: {@code gpt2@main},
 * {@code EleutherAI/pythia-70m@step1000}, or a repo pinned to a 40-hex commit hash.
 *
 * <p>Both parts are validated up front because both become parts of file paths in the cache
 * ({@code models--org--name/refs/<revision>}) and of URLs: the rules are huggingface_hub's
 * ({@code validate_repo_id}) for the repo id and the safe subset of git's ref-name rules for the
 * revision, so nothing here can point outside the cache folder.
 */
public record RepoRef(String repoId, String revision) {

    /** The branch used when no revision is given, as in huggingface_hub. */
    public static final String DEFAULT_REVISION = "main";

    /** One name part: word characters, '-' and '.', starting and ending with a word character. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_](?:[A-Za-z0-9_.\\-]{0,94}[A-Za-z0-9_])?");

    private static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");

    /**
     * @throws LoupeException if the repo id or revision is not valid (see the class comment)
     */
    public RepoRef {
        validateRepoId(repoId);
        validateRevision(repoId, revision);
    }

    /** {@code repoId} at {@link #DEFAULT_REVISION}. */
    public static RepoRef of(String repoId) {
        return new RepoRef(repoId, DEFAULT_REVISION);
    }

    /**
     * Parses {@code name}, {@code org/name} or either followed by {@code @revision}.
     *
     * @throws LoupeException for anything else, with the rule that was broken
     */
    public static RepoRef parse(String spec) {
        if (spec == null) {
            throw new LoupeException("repo id: expected a Hugging Face repo id like 'gpt2' or 'org/name', got null");
        }
        int at = spec.indexOf('@');
        if (at < 0) {
            return new RepoRef(spec, DEFAULT_REVISION);
        }
        return new RepoRef(spec.substring(0, at), spec.substring(at + 1));
    }

    /** Whether {@code revision} is a full commit hash (40 lowercase hex digits) rather than a branch or tag. */
    public static boolean isCommitHash(String revision) {
        return revision != null && COMMIT.matcher(revision).matches();
    }

    /** Whether this reference is pinned to a commit hash. */
    public boolean isPinned() {
        return isCommitHash(revision);
    }

    /** The same repository at {@code commit}. */
    public RepoRef at(String commit) {
        return new RepoRef(repoId, commit);
    }

    /** The repository's folder name in the cache: {@code models--org--name}. */
    public String cacheFolderName() {
        return "models--" + repoId.replace("/", "--");
    }

    @Override
    public String toString() {
        return repoId + "@" + revision;
    }

    private static void validateRepoId(String repoId) {
        String why = repoIdProblem(repoId);
        if (why != null) {
            throw new LoupeException("repo id '" + repoId + "' is not a valid Hugging Face repo id (" + why
                    + "); expected 'name' or 'org/name' like 'gpt2' or 'EleutherAI/pythia-70m',"
                    + " optionally followed by '@revision'");
        }
    }

    private static String repoIdProblem(String repoId) {
        if (repoId == null || repoId.isEmpty()) {
            return "it is empty";
        }
        String[] parts = repoId.split("/", -1);
        if (parts.length > 2) {
            return "it has more than one '/'";
        }
        for (String part : parts) {
            if (!NAME.matcher(part).matches()) {
                return "each part must be 1-96 characters among letters, digits, '_', '-' and '.',"
                        + " starting and ending with a letter, digit or '_'";
            }
        }
        if (repoId.contains("--") || repoId.contains("..")) {
            return "'--' and '..' are not allowed";
        }
        if (repoId.endsWith(".git")) {
            return "it may not end with '.git'";
        }
        return null;
    }

    private static void validateRevision(String repoId, String revision) {
        String why = revisionProblem(revision);
        if (why != null) {
            throw new LoupeException("revision '" + revision + "' of repo '" + repoId + "' is not a valid revision ("
                    + why + "); expected a branch, tag or commit hash like 'main', 'v1.0' or 'refs/pr/1'");
        }
    }

    private static String revisionProblem(String revision) {
        if (revision == null || revision.isEmpty()) {
            return "it is empty";
        }
        if (revision.length() > 255) {
            return "it is longer than 255 characters";
        }
        for (int i = 0; i < revision.length(); i++) {
            char c = revision.charAt(i);
            if (c < 0x20 || c == 0x7f || " ~^:?*[\\@".indexOf(c) >= 0) {
                return "it contains a control character, a space or one of ~ ^ : ? * [ \\ @";
            }
        }
        if (revision.contains("..") || revision.contains("//")) {
            return "'..' and '//' are not allowed";
        }
        for (String segment : revision.split("/", -1)) {
            if (segment.isEmpty() || segment.startsWith(".") || segment.endsWith(".lock")) {
                return "each '/'-separated part must be non-empty, may not start with '.' or end with '.lock'";
            }
        }
        return null;
    }
}
