// test/drivers/ReadViews.java: reads queries through PostgreSQL's JDBC driver
// (pgjdbc, what Metabase, Tableau and DBeaver use) and prints, per query, each
// column's JDBC type name (ResultSetMetaData.getColumnTypeName) and every row
// as ResultSet.getString gives it, in the format test/drivers/run.sh compares
// with psql's COPY ... TO STDOUT output: fields separated by a tab, NULL as
// \N, and a backslash, tab, newline or carriage return inside a value escaped
// as \\, \t, \n, \r.
//
// Usage: java -cp /usr/share/java/postgresql.jar:. ReadViews SOCKETDIR PORT DATABASE USER < queries
// Each line of stdin is "name<TAB>query"; output for it goes to name.jdbc.types
// and name.jdbc.rows in the current directory.  It connects over the Unix
// socket in SOCKETDIR (the throwaway test cluster listens on no TCP port),
// through UnixSocketFactory below.
import java.io.*;
import java.net.*;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.sql.*;
import java.util.Properties;

public class ReadViews {
	// pgjdbc asks its socketFactory for a Socket and connects it to host:port;
	// this one connects to the server's socket file instead (Java 16+ has Unix
	// domain SocketChannels, but their socket() adaptor is unsupported, so the
	// Socket is a thin wrapper over the channel's streams)
	public static class UnixSocketFactory extends javax.net.SocketFactory {
		private final String path;
		public UnixSocketFactory(String path) { this.path = path; }
		public Socket createSocket() { return new UnixSocket(path); }
		public Socket createSocket(String h, int p) { throw new UnsupportedOperationException(); }
		public Socket createSocket(String h, int p, InetAddress a, int lp) { throw new UnsupportedOperationException(); }
		public Socket createSocket(InetAddress h, int p) { throw new UnsupportedOperationException(); }
		public Socket createSocket(InetAddress h, int p, InetAddress a, int lp) { throw new UnsupportedOperationException(); }
	}

	static class UnixSocket extends Socket {
		private final String path;
		private SocketChannel channel;
		UnixSocket(String path) { this.path = path; }
		@Override public void connect(SocketAddress ignored, int timeout) throws IOException {
			channel = SocketChannel.open(UnixDomainSocketAddress.of(path));
		}
		@Override public void connect(SocketAddress a) throws IOException { connect(a, 0); }
		@Override public boolean isConnected() { return channel != null && channel.isConnected(); }
		@Override public InputStream getInputStream() { return Channels.newInputStream(channel); }
		@Override public OutputStream getOutputStream() { return Channels.newOutputStream(channel); }
		@Override public void close() throws IOException { if (channel != null) channel.close(); }
		@Override public boolean isClosed() { return channel != null && !channel.isOpen(); }
		// TCP options mean nothing on a Unix socket; pgjdbc sets them anyway
		@Override public void setTcpNoDelay(boolean on) {}
		@Override public void setKeepAlive(boolean on) {}
		@Override public void setSoTimeout(int t) {}
		@Override public int getSoTimeout() { return 0; }
		@Override public void setReceiveBufferSize(int s) {}
		@Override public void setSendBufferSize(int s) {}
		@Override public int getReceiveBufferSize() { return 65536; }
		@Override public int getSendBufferSize() { return 65536; }
	}

	static String escape(String v) {
		if (v == null)
			return "\\N";
		return v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r");
	}

	public static void main(String[] args) throws Exception {
		Properties props = new Properties();
		props.setProperty("user", args[3]);
		props.setProperty("socketFactory", UnixSocketFactory.class.getName());
		props.setProperty("socketFactoryArg", args[0] + "/.s.PGSQL." + args[1]);
		String url = "jdbc:postgresql://localhost:" + args[1] + "/" + args[2];
		BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
		try (Connection conn = DriverManager.getConnection(url, props)) {
			String line;
			while ((line = in.readLine()) != null) {
				int tab = line.indexOf('\t');
				String name = line.substring(0, tab), query = line.substring(tab + 1);
				try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery(query);
				     PrintWriter types = new PrintWriter(name + ".jdbc.types", "UTF-8");
				     PrintWriter rows = new PrintWriter(name + ".jdbc.rows", "UTF-8")) {
					ResultSetMetaData md = rs.getMetaData();
					int n = md.getColumnCount();
					for (int i = 1; i <= n; i++)
						types.println(md.getColumnLabel(i) + "\t" + md.getColumnTypeName(i));
					while (rs.next()) {
						StringBuilder b = new StringBuilder();
						for (int i = 1; i <= n; i++) {
							if (i > 1)
								b.append('\t');
							b.append(escape(rs.getString(i)));
						}
						rows.println(b);
					}
				}
			}
		}
	}
}
