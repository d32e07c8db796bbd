namespace Jumpgate.TestSupport;

/// <summary>Where the built `jumpgate` program is, for tests that run it as a real process.</summary>
public static class Jumpgate
{
    public static string Executable { get; } = Find();

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
