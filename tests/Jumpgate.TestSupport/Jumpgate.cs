namespace Jumpgate.TestSupport;

/// <summary>Where the `jumpgate` program is, for tests (and the benchmark) that run it as a real process.</summary>
public static class Jumpgate
{
    /// <summary>The build next to the tests (the JIT build), what the test suite runs.</summary>
    public static string Built { get; } = Find();

    /// <summary>
    /// What deployments run for the gateway, agents and clients: the build next to the tests, unless
    /// the benchmark points it at the Native AOT binary users install, or <c>JUMPGATE_TEST_EXECUTABLE</c>
    /// names another build to run the end-to-end tests against (e.g. a Native AOT publish).
    /// </summary>
    public static string Executable { get; set; } = Environment.GetEnvironmentVariable("JUMPGATE_TEST_EXECUTABLE") is { Length: > 0 } other ? other : Built;

    private static string Find()
    {
        // The test support project references the CLI, so its build output sits next to the tests'.
        var here = Path.Combine(AppContext.BaseDirectory, "jumpgate");
        if (File.Exists(here))
        {
            return here;
        }
        throw new FileNotFoundException($"the jumpgate apphost was not found next to the tests in {AppContext.BaseDirectory}; build the solution first");
    }
}
