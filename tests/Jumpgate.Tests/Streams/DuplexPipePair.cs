using System.IO.Pipelines;

namespace Jumpgate.Tests.Streams;

/// <summary>
/// An in-memory connection as Kestrel hands one over: the transport end goes to the code under test,
/// the application end is the peer the test plays.
/// </summary>
internal sealed class DuplexPipePair
{
    public DuplexPipePair()
    {
        var toTransport = new Pipe();
        var toApplication = new Pipe();
        Transport = new DuplexPipe(toTransport.Reader, toApplication.Writer);
        Application = new DuplexPipe(toApplication.Reader, toTransport.Writer);
    }

    public IDuplexPipe Transport { get; }

    public IDuplexPipe Application { get; }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
