using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Npgsql;

namespace Jumpgate.TestSupport;

/// <summary>
/// A throw-away PostgreSQL cluster: initdb into a temporary folder (as the postgres user when the
/// tests run as root, since PostgreSQL refuses to run as root), pg_ctl start on a free loopback
/// port with its socket in that folder, one login role with a password. Making a database costs
/// about a second on a loaded machine, so each test class gets a database of its own and empties
/// it for each of its tests (xunit runs one class's tests one at a time).
/// One cluster serves the whole test run; it is stopped by its PID when the run ends.
/// </summary>
public sealed class PostgresCluster : IDisposable
{
    public const string User = "jumpgate";

    private static readonly Lazy<PostgresCluster> SharedCluster = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);
    private readonly Dictionary<string, string> _databases = new(StringComparer.Ordinal);

    private readonly TempDirectory _dir;
    private readonly string _admin;
    private readonly string _options;
    private int _postmaster;

    private PostgresCluster(TempDirectory dir, int port, string password, string options)
    {
        _dir = dir;
        _options = options;
        Port = port;
        Password = password;
        _admin = new NpgsqlConnectionStringBuilder { Host = dir.Path, Port = port, Username = "postgres", Database = "postgres", Pooling = false }.ConnectionString;
    }

    /// <summary>The run's cluster, started by the first test that asks.</summary>
    public static PostgresCluster Shared => SharedCluster.Value;

    /// <summary>A cluster of the caller's own, for a test that stops and starts it (the shared one serves other tests meanwhile); dispose it.</summary>
    public static PostgresCluster StartOwn() => Start();

    /// <summary>The postmaster's PID while it runs, 0 once stopped.</summary>
    public int Postmaster => _postmaster;

    /// <summary>How long initdb and start took, for the report.</summary>
    public static TimeSpan StartTime { get; private set; }

    public int Port { get; }

    public string Password { get; }

    /// <summary>The newest installed PostgreSQL's binaries, or null when none is installed.</summary>
    public static string? BinDirectory =>
        Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb")))
                .OrderByDescending(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), out var v) ? v : 0).FirstOrDefault()
            : null;

    /// <summary>
    /// The database <paramref name="name"/>, owned by <see cref="User"/>, made on first use; the
    /// same one later. <paramref name="made"/> says whether this call made it (it is empty then).
    /// Returns its postgres:// URL, password included.
    /// </summary>
    public string Database(string name, out bool made)
    {
        name = name.Replace('-', '_');
        lock (_databases)
        {
            made = !_databases.ContainsKey(name);
            if (made)
            {
                using var connection = new NpgsqlConnection(_admin);
                connection.Open();
                using var create = new NpgsqlCommand($"CREATE DATABASE {name} OWNER {User} TEMPLATE template0 STRATEGY FILE_COPY", connection);
                create.ExecuteNonQuery();
                _databases[name] = Url(name);
            }
            return _databases[name];
        }
    }

    public string Database(string name) => Database(name, out _);

    public string Url(string database, string? password = null) =>
        $"postgres://{User}:{Uri.EscapeDataString(password ?? Password)}@127.0.0.1:{Port}/{database}";

    private static PostgresCluster Start()
    {
        var bin = BinDirectory ?? throw new InvalidOperationException("PostgreSQL is not installed (test.sh installs Debian's postgresql)");
        var started = Stopwatch.StartNew();
        var dir = new TempDirectory("jg-postgres");
        var asRoot = Environment.UserName == "root";
        if (asRoot)
        {
            Run("chown", ["postgres:postgres", dir.Path]);
        }
        var data = dir.File("data");
        Run(bin + "/initdb", ["-D", data, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"], asRoot);
        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
        for (var attempt = 0; ; attempt++)
        {
            var port = Sshd.FreePort();
            // fsync off: a cluster that is thrown away needs no durability. max_connections: every store a test opens
            // holds a pool and a listener, and the test classes run side by side.
            var options = $"-p {port} -k {dir.Path} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
                // Slow statements and lock waits go to the log, which Describe() shows when a test fails.
                + " -c log_lock_waits=on -c deadlock_timeout=1s -c log_min_duration_statement=1000 -c log_connections=on -c log_disconnections=on";
            var result = Run(bin + "/pg_ctl", ["-D", data, "-l", dir.File("postgres.log"), "-w", "-t", "30", "-o", options, "start"], asRoot, check: false);
            if (result.ExitCode != 0)
            {
                if (attempt < 4)
                {
                    // Another process took the port between our probe and the bind; pick another.
                    continue;
                }
                throw new InvalidOperationException($"pg_ctl start failed: {result}\n{File.ReadAllText(dir.File("postgres.log"))}");
            }
            var cluster = new PostgresCluster(dir, port, password, options);
            cluster._postmaster = ReadPostmaster(data);
            AppDomain.CurrentDomain.ProcessExit += (_, _) => cluster.Dispose();
            using (var connection = new NpgsqlConnection(cluster._admin))
            {
                connection.Open();
                using var command = new NpgsqlCommand($"CREATE ROLE {User} LOGIN PASSWORD '{password}'", connection);
                command.ExecuteNonQuery();
            }
            StartTime = started.Elapsed;
            return cluster;
        }
    }

    /// <summary>
    /// Stops the database under the gateways that use it: SIGQUIT to the PID the cluster started
    /// with (PostgreSQL's immediate shutdown: every connection dropped at once, no checkpoint), then
    /// waits, bounded, until the postmaster has exited and let go of its lock file. The data folder
    /// and the port stay for <see cref="StartAgain"/>.
    /// </summary>
    public async Task StopAsync()
    {
        var pid = Interlocked.Exchange(ref _postmaster, 0);
        const int SigQuit = 3;
        Kill(pid, SigQuit);
        var lockFile = Path.Combine(_dir.File("data"), "postmaster.pid");
        if (!await Signals.UntilAsync(() => Task.FromResult(!IsRunning(pid) && !File.Exists(lockFile)), Signals.Timeout(30), TimeSpan.FromMilliseconds(20)))
        {
            throw new TimeoutException($"postmaster {pid} still runs 30 s after SIGQUIT");
        }
    }

    /// <summary>Starts the cluster again on the same port and folder, as an operator restarting the database does.</summary>
    public void StartAgain()
    {
        var asRoot = Environment.UserName == "root";
        var data = _dir.File("data");
        Run(BinDirectory! + "/pg_ctl", ["-D", data, "-l", _dir.File("postgres.log"), "-w", "-t", "60", "-o", _options, "start"], asRoot);
        _postmaster = ReadPostmaster(data);
    }

    private static int ReadPostmaster(string data) => int.Parse(File.ReadLines(Path.Combine(data, "postmaster.pid")).First());

    /// <summary>Whether <paramref name="pid"/> runs: a zombie (a parent that has not reaped it yet) does not.</summary>
    private static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The state follows the command name, which is in parentheses and may hold spaces.
            return !stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // No such process any more.
            return false;
        }
    }

    /// <summary>
    /// Stops the postmaster by its PID with SIGQUIT, PostgreSQL's immediate shutdown (no checkpoint
    /// for data about to be deleted), and removes the folder once it has gone. The removal runs in a
    /// detached shell: this runs as the test host exits, and the host is stopped before a recursive
    /// delete of the cluster's tens of megabytes can finish (it left half-deleted folders).
    /// </summary>
    public void Dispose()
    {
        var pid = Interlocked.Exchange(ref _postmaster, 0);
        if (pid == 0)
        {
            return;
        }
        NpgsqlConnection.ClearAllPools();
        const int SigQuit = 3;
        Kill(pid, SigQuit);
        var remove = new ProcessStartInfo("setsid") { UseShellExecute = false };
        foreach (var argument in new[] { "sh", "-c", $"while kill -0 {pid} 2>/dev/null; do sleep 0.1; done; rm -rf '{_dir.Path}'" })
        {
            remove.ArgumentList.Add(argument);
        }
        Process.Start(remove)?.Dispose();
    }

    /// <summary>
    /// What the cluster is doing, for a test that failed on it: every session with its state and
    /// wait, the locks not granted, and the end of the server's log. Never throws.
    /// </summary>
    public string Describe()
    {
        var text = new System.Text.StringBuilder();
        try
        {
            using var connection = new NpgsqlConnection(_admin + ";Timeout=5;Command Timeout=5");
            connection.Open();
            foreach (var (title, sql) in new[]
            {
                ("sessions", "SELECT pid, datname, application_name, client_port, state, wait_event_type, wait_event, now() - xact_start, now() - query_start, left(query, 120) FROM pg_stat_activity WHERE backend_type = 'client backend' ORDER BY pid"),
                ("locks not granted", "SELECT pid, locktype, mode, relation::regclass::text, transactionid::text, pg_blocking_pids(pid)::text FROM pg_locks WHERE NOT granted"),
            })
            {
                text.AppendLine($"postgres {title}:");
                using var command = new NpgsqlCommand(sql, connection);
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    var values = new object[reader.FieldCount];
                    reader.GetValues(values);
                    text.AppendLine("  " + string.Join(" | ", values));
                }
            }
        }
        catch (Exception e)
        {
            text.AppendLine($"postgres could not be asked: {e.GetType().Name}: {e.Message}");
        }
        try
        {
            var log = File.ReadAllLines(_dir.File("postgres.log"));
            text.AppendLine($"postgres.log, last 80 of {log.Length} lines:");
            foreach (var line in log.TakeLast(80))
            {
                text.AppendLine("  " + line);
            }
        }
        catch (IOException e)
        {
            text.AppendLine($"postgres.log could not be read: {e.Message}");
        }
        return text.ToString();
    }

    private static CommandResult Run(string file, string[] arguments, bool asPostgres = false, bool check = true)
    {
        var result = asPostgres
            ? Command.RunAsync("runuser", ["-u", "postgres", "--", file, .. arguments], TimeSpan.FromSeconds(60)).GetAwaiter().GetResult()
            : Command.RunAsync(file, arguments, TimeSpan.FromSeconds(60)).GetAwaiter().GetResult();
        if (check && result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} failed: {result}");
        }
        return result;
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
