/*
 * DOdata Connector - launcher for the Eclipse Dataspace TCK (DSP 2025-1).
 *
 * Compiled and run by scripts/dsp-tck/run; not part of the connector. It:
 *   1. loads a Java properties file (the TCK configuration),
 *   2. runs org.eclipse.dataspacetck.runtime.TckRuntime over the package
 *      org.eclipse.dataspacetck.dsp.verification,
 *   3. prints one line per test (id, PASS/FAIL/SKIP, display name) plus the failure message,
 *   4. ends with exactly one summary line "N passed, M failed" (", K skipped" when tests were disabled),
 *   5. exits 0 only if no test failed (2 on a usage or configuration error).
 *
 * Per-test results are collected by {@link ReportingListener}, which the JUnit platform launcher
 * created inside TckRuntime auto-registers through
 * META-INF/services/org.junit.platform.launcher.TestExecutionListener (written by the run script).
 *
 * Usage: java -cp <classes>:<lib>/* dodata.dsptck.TckLauncher <tck.properties> [--only REGEX] [--list] [--verbose]
 *   --only REGEX  run only tests whose id (e.g. CN_01_01) or display name matches REGEX (find semantics)
 *   --list        discover only: print the test ids/names with ENABLED/DISABLED, run nothing
 *   --verbose     also print the TCK runtime's own progress messages (stderr)
 */
package dodata.dsptck;

import org.eclipse.dataspacetck.core.spi.boot.Monitor;
import org.eclipse.dataspacetck.runtime.TckRuntime;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.discovery.ClassNameFilter;
import org.junit.platform.engine.discovery.DiscoverySelectors;
import org.junit.platform.engine.support.descriptor.MethodSource;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

import java.io.FileReader;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

public final class TckLauncher {
    static final String TEST_PACKAGE = "org.eclipse.dataspacetck.dsp.verification";
    static final String LAUNCHER_PROPERTY = "dataspacetck.launcher";
    static final String DEFAULT_LAUNCHER = "org.eclipse.dataspacetck.dsp.system.DspSystemLauncher";

    /** Output stream captured before the TCK runs (the TCK's ConsoleMonitor also writes to System.out). */
    static final PrintStream OUT = System.out;

    private TckLauncher() {
    }

    public static void main(String[] args) {
        String propertiesFile = null;
        String only = null;
        boolean list = false;
        boolean verbose = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--only" -> {
                    if (++i >= args.length) {
                        usage("--only needs a regular expression");
                    }
                    only = args[i];
                }
                case "--list" -> list = true;
                case "--verbose" -> verbose = true;
                default -> {
                    if (args[i].startsWith("--") || propertiesFile != null) {
                        usage("unexpected argument: " + args[i]);
                    }
                    propertiesFile = args[i];
                }
            }
        }
        if (propertiesFile == null) {
            usage("missing properties file");
        }

        var properties = loadProperties(Path.of(propertiesFile));
        properties.putIfAbsent(LAUNCHER_PROPERTY, DEFAULT_LAUNCHER);

        var filter = only == null ? null : Pattern.compile(only);

        var builder = TckRuntime.Builder.newInstance()
                .properties(properties)
                .addPackage(TEST_PACKAGE)
                .monitor(new LauncherMonitor(verbose));
        if (filter != null) {
            builder.displayNameMatching(displayName ->
                    filter.matcher(displayName).find() || filter.matcher(testId(displayName)).find());
        }
        if (list) {
            System.exit(listTests(filter));
        }

        var started = System.nanoTime();
        try {
            builder.build().execute();
        } catch (Throwable t) {
            // e.g. "No TCK tests found" (tck-common >= 1.0.0) or a JUnit platform error
            OUT.println("ERROR: TCK runtime failed: " + t);
            ReportingListener.runtimeError = t.toString();
        }
        var seconds = (System.nanoTime() - started) / 1_000_000_000.0;
        OUT.flush();
        System.exit(ReportingListener.report(seconds));
    }

    /** --list: discovery only (same selector and class-name filter as TckRuntime), nothing is executed. */
    private static int listTests(Pattern filter) {
        var request = LauncherDiscoveryRequestBuilder.request()
                .selectors(DiscoverySelectors.selectPackage(TEST_PACKAGE))
                .filters(ClassNameFilter.includeClassNamePatterns(".*Test"))
                .build();
        var testPlan = LauncherFactory.create().discover(request);
        var tests = ReportingListener.tests(testPlan);
        tests.sort(java.util.Comparator.comparing(t -> testId(t.getDisplayName())));
        int enabled = 0;
        int shown = 0;
        for (var test : tests) {
            var id = testId(test.getDisplayName());
            if (filter != null && !filter.matcher(id).find() && !filter.matcher(test.getDisplayName()).find()) {
                continue;
            }
            var disabled = ReportingListener.isDisabled(test);
            enabled += disabled ? 0 : 1;
            shown++;
            OUT.printf("  %-11s %-8s %s%n", id, disabled ? "DISABLED" : "ENABLED", test.getDisplayName());
        }
        OUT.printf("Discovered %d tests (%d enabled, %d disabled)%s; none run.%n", shown, enabled, shown - enabled,
                filter == null ? "" : " matching --only");
        return 0;
    }

    /** "CN_C:01-02: Verify ..." -> "CN_C_01_02"; falls back to the whole display name. */
    static String testId(String displayName) {
        var idx = displayName.indexOf(": ");
        var head = idx > 0 ? displayName.substring(0, idx) : displayName;
        return head.replace(':', '_').replace('-', '_');
    }

    private static Map<String, String> loadProperties(Path path) {
        if (!Files.isRegularFile(path)) {
            usage("properties file not found: " + path);
        }
        var properties = new Properties();
        try (var reader = new FileReader(path.toFile(), StandardCharsets.UTF_8)) {
            properties.load(reader);
        } catch (IOException e) {
            usage("cannot read " + path + ": " + e.getMessage());
        }
        var map = new TreeMap<String, String>();
        for (var name : properties.stringPropertyNames()) {
            map.put(name, properties.getProperty(name).trim());
        }
        return map;
    }

    private static void usage(String message) {
        System.err.println("TckLauncher: " + message);
        System.err.println("usage: TckLauncher <tck.properties> [--only REGEX] [--list] [--verbose]");
        System.exit(2);
    }

    /** Monitor handed to TckRuntime: its per-test progress lines duplicate ours, so they go to stderr only with --verbose. */
    static final class LauncherMonitor implements Monitor {
        private final boolean verbose;

        LauncherMonitor(boolean verbose) {
            this.verbose = verbose;
        }

        private Monitor print(String message) {
            if (verbose) {
                System.err.println("[tck] " + message);
            }
            return this;
        }

        @Override
        public Monitor enableSuccess() {
            return this;
        }

        @Override
        public Monitor enableError() {
            return this;
        }

        @Override
        public Monitor enableBold() {
            return this;
        }

        @Override
        public Monitor resetMode() {
            return this;
        }

        @Override
        public Monitor newLine() {
            return this;
        }

        @Override
        public Monitor message(String message) {
            return print(message.strip());
        }

        @Override
        public Monitor debug(String message) {
            return print(message.strip());
        }
    }

    /**
     * Collects the result of every test. Auto-registered by the JUnit platform launcher (ServiceLoader), so it
     * sees the same test plan TckRuntime executes. Results are kept in static state for {@link #report}.
     */
    public static final class ReportingListener implements TestExecutionListener {
        static volatile String runtimeError;
        private static volatile TestPlan plan;
        private static final Map<String, String[]> RESULTS = new ConcurrentHashMap<>(); // uniqueId -> {status, message}
        private static final Map<String, String> CONTAINER_FAILURES = new ConcurrentHashMap<>();
        private static final Map<String, Long> STARTED = new ConcurrentHashMap<>();

        public ReportingListener() {
        }

        @Override
        public void testPlanExecutionStarted(TestPlan testPlan) {
            plan = testPlan;
            var tests = tests(testPlan);
            var disabled = tests.stream().filter(ReportingListener::isDisabled).count();
            OUT.printf("Discovered %d tests (%d enabled, %d disabled) in %s%n",
                    tests.size(), tests.size() - disabled, disabled, TEST_PACKAGE);
            OUT.flush();
        }

        @Override
        public void executionStarted(TestIdentifier identifier) {
            if (identifier.isTest()) {
                STARTED.put(identifier.getUniqueId(), System.nanoTime());
            }
        }

        @Override
        public void executionSkipped(TestIdentifier identifier, String reason) {
            if (identifier.isTest()) {
                RESULTS.put(identifier.getUniqueId(), new String[]{"SKIP", reason, ""});
                OUT.printf("SKIP %-11s %s%n     reason: %s%n", testId(identifier.getDisplayName()),
                        identifier.getDisplayName(), reason);
                OUT.flush();
            } else if (plan != null) {
                // a skipped container skips all of its tests
                for (var test : descendantTests(identifier)) {
                    RESULTS.putIfAbsent(test.getUniqueId(), new String[]{"SKIP", reason, ""});
                }
            }
        }

        @Override
        public void executionFinished(TestIdentifier identifier, TestExecutionResult result) {
            if (!identifier.isTest()) {
                if (result.getStatus() != TestExecutionResult.Status.SUCCESSFUL) {
                    CONTAINER_FAILURES.put(identifier.getUniqueId(),
                            identifier.getDisplayName() + ": " + message(result));
                    OUT.printf("ERROR in %s: %s%n", identifier.getDisplayName(), message(result));
                    OUT.flush();
                }
                return;
            }
            var startedAt = STARTED.get(identifier.getUniqueId());
            var elapsed = startedAt == null ? "" : String.format("%.1fs", (System.nanoTime() - startedAt) / 1e9);
            var id = testId(identifier.getDisplayName());
            switch (result.getStatus()) {
                case SUCCESSFUL -> {
                    RESULTS.put(identifier.getUniqueId(), new String[]{"PASS", "", elapsed});
                    OUT.printf("PASS %-11s %s (%s)%n", id, identifier.getDisplayName(), elapsed);
                }
                case ABORTED -> {
                    RESULTS.put(identifier.getUniqueId(), new String[]{"SKIP", message(result), elapsed});
                    OUT.printf("SKIP %-11s %s (%s)%n     aborted: %s%n", id, identifier.getDisplayName(), elapsed, message(result));
                }
                default -> {
                    RESULTS.put(identifier.getUniqueId(), new String[]{"FAIL", message(result), elapsed});
                    OUT.printf("FAIL %-11s %s (%s)%n     %s%n", id, identifier.getDisplayName(), elapsed,
                            message(result).replace("\n", "\n     "));
                }
            }
            OUT.flush();
        }

        private static String message(TestExecutionResult result) {
            return result.getThrowable().map(t -> {
                var msg = t.getMessage();
                var text = t.getClass().getSimpleName() + (msg == null ? "" : ": " + msg.strip());
                var cause = t.getCause();
                if (cause != null && cause != t && cause.getMessage() != null
                        && (msg == null || !msg.contains(cause.getMessage()))) {
                    text += " (cause: " + cause.getClass().getSimpleName() + ": " + cause.getMessage().strip() + ")";
                }
                return text;
            }).orElse(result.getStatus().toString());
        }

        static boolean isDisabled(TestIdentifier test) {
            return test.getSource()
                    .filter(s -> s instanceof MethodSource)
                    .map(s -> {
                        try {
                            var method = ((MethodSource) s).getJavaMethod();
                            return method.isAnnotationPresent(org.junit.jupiter.api.Disabled.class)
                                    || method.getDeclaringClass().isAnnotationPresent(org.junit.jupiter.api.Disabled.class);
                        } catch (Throwable e) {
                            return false;
                        }
                    })
                    .orElse(false);
        }

        static List<TestIdentifier> tests(TestPlan testPlan) {
            var result = new ArrayList<TestIdentifier>();
            for (var root : testPlan.getRoots()) {
                collect(testPlan, root, result);
            }
            return result;
        }

        private static List<TestIdentifier> descendantTests(TestIdentifier container) {
            var result = new ArrayList<TestIdentifier>();
            collect(plan, container, result);
            return result;
        }

        private static void collect(TestPlan testPlan, TestIdentifier node, List<TestIdentifier> out) {
            if (node.isTest()) {
                out.add(node);
            }
            for (var child : testPlan.getChildren(node)) {
                collect(testPlan, child, out);
            }
        }

        /** Prints the summary and returns the exit code. */
        static int report(double seconds) {
            var testPlan = plan;
            if (testPlan == null) {
                OUT.println("ERROR: no test plan was executed" + (runtimeError == null ? "" : " (" + runtimeError + ")"));
                OUT.println("0 passed, 1 failed");
                return 1;
            }
            var tests = tests(testPlan);
            int passed = 0;
            int failed = 0;
            int skipped = 0;
            var failures = new LinkedHashMap<String, String>();
            for (var test : tests) {
                var r = RESULTS.get(test.getUniqueId());
                if (r == null) {
                    // never ran: its class (or the TCK bootstrap) failed before it
                    var why = containerFailure(testPlan, test);
                    failed++;
                    failures.put(testId(test.getDisplayName()), "not run: " + why);
                    OUT.printf("FAIL %-11s %s%n     not run: %s%n", testId(test.getDisplayName()), test.getDisplayName(), why);
                    continue;
                }
                switch (r[0]) {
                    case "PASS" -> passed++;
                    case "SKIP" -> skipped++;
                    default -> {
                        failed++;
                        failures.put(testId(test.getDisplayName()), r[1]);
                    }
                }
            }
            OUT.println();
            OUT.printf("DSP TCK: %d tests discovered, %d run in %.1fs%n", tests.size(), passed + failed, seconds);
            if (!failures.isEmpty()) {
                var ids = new ArrayList<>(failures.keySet());
                Collections.sort(ids);
                OUT.println("Failed: " + String.join(" ", ids));
            }
            var summary = passed + " passed, " + failed + " failed" + (skipped > 0 ? ", " + skipped + " skipped" : "");
            OUT.println(summary);
            OUT.flush();
            return failed == 0 && runtimeError == null ? 0 : 1;
        }

        private static String containerFailure(TestPlan testPlan, TestIdentifier test) {
            var current = testPlan.getParent(test);
            while (current.isPresent()) {
                var failure = CONTAINER_FAILURES.get(current.get().getUniqueId());
                if (failure != null) {
                    return failure;
                }
                current = testPlan.getParent(current.get());
            }
            return runtimeError != null ? runtimeError : "test did not report a result";
        }
    }
}
