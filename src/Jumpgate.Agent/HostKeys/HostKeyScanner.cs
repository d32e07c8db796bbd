using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using Jumpgate.Agent.Configuration;
using Jumpgate.Core.Security;

namespace Jumpgate.Agent.HostKeys;

/// <summary>
/// Reads an SSH service's host keys from the agent's side of the network with the machine's own
/// <c>ssh-keyscan</c> (docs/decisions.md, "The agent reads host keys with ssh-keyscan"): every key
/// type the server offers, in known_hosts form, as the user's OpenSSH will compare them.
/// </summary>
internal static class HostKeyScanner
{
    /// <summary>The service that speaks SSH: <c>ssh: PORT</c> in agent.yaml, what `ssh HOST.jg` (port 22) reaches.</summary>
    public const string SshService = "ssh";

    /// <summary>ssh-keyscan's own timeout per connection; a server that answers at all answers well within it.</summary>
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The whole scan: ssh-keyscan connects once per key type.</summary>
    private static readonly TimeSpan ScanTimeout = TimeSpan.FromSeconds(20);

    /// <summary>The keys <paramref name="host"/>'s ssh service offers, ordered; throws <see cref="HostKeyScanException"/> in words when there are none to be had.</summary>
    public static async Task<IReadOnlyList<SshHostKey>> ScanAsync(HostTarget host, ServiceTarget service, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("ssh-keyscan")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            ArgumentList =
            {
                "-T", ((int)ConnectTimeout.TotalSeconds).ToString(CultureInfo.InvariantCulture),
                "-p", service.Port.ToString(CultureInfo.InvariantCulture),
                // "--" so that an address can never be read as an option.
                "--", host.Address,
            },
        };
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new HostKeyScanException("ssh-keyscan did not start");
        }
        catch (Win32Exception e)
        {
            throw new HostKeyScanException($"cannot run ssh-keyscan ({e.Message}); install OpenSSH's client (openssh-client) on the agent's machine");
        }
        using (process)
        {
            process.StandardInput.Close();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(ScanTimeout);
            var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var errors = process.StandardError.ReadToEndAsync(timeout.Token);
            try
            {
                await process.WaitForExitAsync(timeout.Token);
                var lines = (await output).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                // "NAME TYPE BASE64" per key; comments ("# host:port SSH-2.0-…") go to stderr, but skip any here too.
                var keys = SshHostKey.ParseAll(lines.Where(l => !l.StartsWith('#')).Select(l => l.Split(' ', 2) is [_, var key] ? key : l));
                if (keys is null)
                {
                    throw new HostKeyScanException("ssh-keyscan printed a line that is not a host key");
                }
                if (keys.Count == 0)
                {
                    var said = (await errors).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => !l.StartsWith('#')).LastOrDefault();
                    throw new HostKeyScanException($"{host.Address}:{service.Port} offered no host key{(said is null ? "" : $" ({said})")}");
                }
                return keys;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new HostKeyScanException($"{host.Address}:{service.Port} gave no host keys within {ScanTimeout.TotalSeconds:0} s");
            }
            finally
            {
                if (!process.HasExited)
                {
                    process.Kill();
                }
            }
        }
    }
}

/// <summary>Why a service's host keys could not be read, in words for the agent's log.</summary>
internal sealed class HostKeyScanException(string message) : Exception(message);
