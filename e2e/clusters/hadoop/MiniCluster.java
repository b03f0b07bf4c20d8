// A real HDFS + YARN mini cluster (Hadoop's own MiniDFSCluster and MiniYARNCluster, from Maven Central jars)
// for Atrium's YARN tests and demos. Single file, run with the source launcher:
//
//   java -cp '<cache>/hadoop-<version>/lib/*' MiniCluster.java --work-dir /tmp/hadoop-work [options]
//
// Every server listens on 127.0.0.1 with fixed ports. When both are up it writes a client config directory
// (core-site.xml, hdfs-site.xml, yarn-site.xml: point HADOOP_CONF_DIR / YARN_CONF_DIR at it), a cluster.json
// with the URLs and ports, and prints one line:  ATRIUM-HADOOP-READY {json}
// SIGTERM (or stdin closing, with --exit-on-stdin-eof) stops YARN then HDFS and exits 0.
// The options and why each setting is here: see README.md beside this file.

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

public class MiniCluster {
  static final String READY = "ATRIUM-HADOOP-READY";

  public static void main(String[] argv) throws Exception {
    Map<String, String> a = parseArgs(argv);
    File work = new File(req(a, "work-dir")).getAbsoluteFile();
    File confDir = new File(a.getOrDefault("conf-dir", new File(work, "conf").getPath())).getAbsoluteFile();
    File logs = new File(work, "logs");
    logs.mkdirs();
    confDir.mkdirs();
    // Logging first, before any Hadoop class loads: everything goes to <work>/logs/cluster.log, stdout keeps
    // only our own lines.
    File log4j = new File(work, "log4j.properties");
    Files.writeString(log4j.toPath(), String.join("\n",
        "log4j.rootLogger=" + a.getOrDefault("log-level", "INFO") + ",file",
        "log4j.appender.file=org.apache.log4j.FileAppender",
        "log4j.appender.file.File=" + new File(logs, "cluster.log").getPath(),
        "log4j.appender.file.Append=false",
        "log4j.appender.file.layout=org.apache.log4j.PatternLayout",
        "log4j.appender.file.layout.ConversionPattern=%d{ISO8601} %p %c{1}: %m%n",
        "log4j.logger.org.apache.hadoop.util.NativeCodeLoader=ERROR",
        "log4j.logger.org.apache.hadoop.metrics2=WARN",
        "log4j.logger.org.eclipse.jetty=WARN", ""));
    System.setProperty("log4j.configuration", log4j.toURI().toString());
    // MiniYARNCluster puts its NodeManager local and log dirs under GenericTestUtils.getTestDir(), i.e. here.
    System.setProperty("test.build.data", new File(work, "yarn").getPath());
    System.setProperty("hadoop.log.dir", logs.getPath());
    try {
      new MiniCluster().run(a, work, confDir);
    } catch (Throwable e) {
      // Hadoop leaves non-daemon threads behind: without exit() a failed start would hang here forever.
      System.err.println("[hadoop] failed to start: " + e);
      e.printStackTrace();
      System.exit(1);
    }
    System.exit(0);
  }

  void run(Map<String, String> a, File work, File confDir) throws Exception {
    long t0 = System.nanoTime();
    String host = "127.0.0.1";
    int nnPort = port(a, "nn-port", 19820);
    int nnHttpPort = port(a, "nn-http-port", 19870);
    int rmPort = port(a, "rm-port", 18032);
    int rmSchedulerPort = port(a, "rm-scheduler-port", 18030);
    int rmTrackerPort = port(a, "rm-tracker-port", 18031);
    int rmAdminPort = port(a, "rm-admin-port", 18033);
    int rmWebPort = port(a, "rm-web-port", 18088);
    int nmMemoryMb = Integer.parseInt(a.getOrDefault("nm-memory-mb", "8192"));
    int nmVcores = Integer.parseInt(a.getOrDefault("nm-vcores", "8"));
    boolean anonymousHttp = Boolean.parseBoolean(a.getOrDefault("anonymous-http", "false"));
    String superuser = System.getProperty("user.name");
    List<String> proxyUsers = new ArrayList<>();
    for (String u : a.getOrDefault("proxy-users", superuser + ",atrium").split(",")) if (!u.isBlank()) proxyUsers.add(u.trim());
    // queue:capacity (percent of root; they must add up to 100). Every queue may grow to the whole cluster.
    Map<String, Integer> queues = new LinkedHashMap<>();
    for (String q : a.getOrDefault("queues", "default:40,risk:30,fraud:30").split(",")) {
      String[] kv = q.split(":");
      queues.put(kv[0].trim(), Integer.parseInt(kv[1].trim()));
    }
    String javaHome = a.getOrDefault("java-home", System.getProperty("java.home"));

    InetAddress local = InetAddress.getLocalHost();
    if (!local.isLoopbackAddress()) {
      System.err.println("[hadoop] warning: this host's name (" + local.getHostName() + ") resolves to " + local.getHostAddress()
          + ", not a loopback address: the mini NodeManager binds to that name.");
    }

    org.apache.hadoop.conf.Configuration conf = new org.apache.hadoop.yarn.conf.YarnConfiguration();
    // --- common / security ---------------------------------------------------------------------------------
    conf.set("hadoop.tmp.dir", new File(work, "tmp").getPath());
    conf.set("hadoop.security.authentication", "simple");
    for (String u : proxyUsers) {
      conf.set("hadoop.proxyuser." + u + ".hosts", "*");
      conf.set("hadoop.proxyuser." + u + ".groups", "*");
    }
    // Simple HTTP authentication on the HTTP servers (RM REST, NameNode UI): the caller names itself with
    // ?user.name=. Without an authentication filter the RM rejects writes (kill: "Unable to obtain user name").
    conf.set("hadoop.http.filter.initializers", "org.apache.hadoop.security.AuthenticationFilterInitializer");
    conf.set("hadoop.http.authentication.type", "simple");
    conf.set("hadoop.http.authentication.simple.anonymous.allowed", Boolean.toString(anonymousHttp));
    File secret = new File(work, "http-auth-secret");
    if (!secret.exists()) Files.writeString(secret.toPath(), java.util.UUID.randomUUID().toString());
    conf.set("hadoop.http.authentication.signature.secret.file", secret.getPath());
    // --- HDFS ------------------------------------------------------------------------------------------------
    conf.setInt("dfs.replication", 1);
    conf.set("dfs.permissions.superusergroup", "supergroup");
    conf.setBoolean("dfs.webhdfs.enabled", true);
    // One DataNode: appends (WebHDFS APPEND, used by the home store) must not try to replace it.
    conf.setBoolean("dfs.client.block.write.replace-datanode-on-failure.enable", false);
    conf.set("dfs.namenode.rpc-bind-host", host);
    conf.set("dfs.namenode.http-bind-host", host);
    // --- YARN ------------------------------------------------------------------------------------------------
    conf.setBoolean("yarn.minicluster.fixed.ports", true); // else every RM port is random
    Map<String, String> rmAddresses = new LinkedHashMap<>();
    rmAddresses.put("yarn.resourcemanager.hostname", host);
    rmAddresses.put("yarn.resourcemanager.address", host + ":" + rmPort);
    rmAddresses.put("yarn.resourcemanager.scheduler.address", host + ":" + rmSchedulerPort);
    rmAddresses.put("yarn.resourcemanager.resource-tracker.address", host + ":" + rmTrackerPort);
    rmAddresses.put("yarn.resourcemanager.admin.address", host + ":" + rmAdminPort);
    rmAddresses.put("yarn.resourcemanager.webapp.address", host + ":" + rmWebPort);
    conf.set("yarn.resourcemanager.hostname", host);
    conf.set("yarn.resourcemanager.address", host + ":" + rmPort);
    conf.set("yarn.resourcemanager.scheduler.address", host + ":" + rmSchedulerPort);
    conf.set("yarn.resourcemanager.resource-tracker.address", host + ":" + rmTrackerPort);
    conf.set("yarn.resourcemanager.admin.address", host + ":" + rmAdminPort);
    conf.set("yarn.resourcemanager.webapp.address", host + ":" + rmWebPort);
    conf.set("yarn.resourcemanager.bind-host", host);
    // The mini cluster ignores yarn.nodemanager.resource.memory-mb and uses its own key (default 4096).
    conf.setInt("yarn.minicluster.yarn.nodemanager.resource.memory-mb", nmMemoryMb);
    conf.setInt("yarn.nodemanager.resource.memory-mb", nmMemoryMb);
    conf.setInt("yarn.nodemanager.resource.cpu-vcores", nmVcores);
    conf.setInt("yarn.scheduler.minimum-allocation-mb", 256);
    conf.setInt("yarn.scheduler.maximum-allocation-mb", nmMemoryMb);
    conf.setInt("yarn.scheduler.minimum-allocation-vcores", 1);
    conf.setInt("yarn.scheduler.maximum-allocation-vcores", nmVcores);
    // Disks on shared machines are often >90% full: the default (90%) marks the only local dir bad and the
    // NodeManager turns UNHEALTHY, so nothing is ever scheduled.
    conf.setFloat("yarn.nodemanager.disk-health-checker.max-disk-utilization-per-disk-percentage", 99.9f);
    conf.setInt("yarn.nodemanager.disk-health-checker.min-free-space-per-disk-mb", 64);
    conf.setBoolean("yarn.nodemanager.pmem-check-enabled", false);
    conf.setBoolean("yarn.nodemanager.vmem-check-enabled", false);
    // Containers run `$JAVA_HOME/bin/java`. The NodeManager passes its own JAVA_HOME through the whitelist;
    // when it has none, admin-env sets it. (admin-env APPENDS with ':' to a variable that is already set, so
    // it must never carry a variable the whitelist or the application also sets: "X:X" breaks it.)
    String adminEnv = "MALLOC_ARENA_MAX=4";
    if (System.getenv("JAVA_HOME") == null || System.getenv("JAVA_HOME").isBlank()) adminEnv += ",JAVA_HOME=" + javaHome;
    conf.set("yarn.nodemanager.admin-env", adminEnv);
    conf.set("yarn.nodemanager.env-whitelist",
        "JAVA_HOME,HADOOP_COMMON_HOME,HADOOP_HDFS_HOME,HADOOP_CONF_DIR,CLASSPATH_PREPEND_DISTCACHE,HADOOP_YARN_HOME,HADOOP_HOME,PATH,LANG,TZ");
    conf.setBoolean("yarn.log-aggregation-enable", false);
    // How long the NodeManager waits for a container process while cleaning up (default 5 s); also bounds
    // its wait for applications at shutdown.
    conf.setInt("yarn.nodemanager.process-kill-wait.ms", 2000);
    conf.setInt("yarn.nodemanager.delete.debug-delay-sec", Integer.parseInt(a.getOrDefault("debug-delay-sec", "0")));
    conf.setBoolean("yarn.timeline-service.enabled", false);
    // --- Capacity scheduler: one queue per test team ---------------------------------------------------------
    conf.set("yarn.resourcemanager.scheduler.class",
        "org.apache.hadoop.yarn.server.resourcemanager.scheduler.capacity.CapacityScheduler");
    conf.set("yarn.scheduler.capacity.root.queues", String.join(",", queues.keySet()));
    // Each notebook kernel is an ApplicationMaster: the default 10% AM share would admit one or two.
    conf.setFloat("yarn.scheduler.capacity.maximum-am-resource-percent", 1.0f);
    for (Map.Entry<String, Integer> q : queues.entrySet()) {
      String p = "yarn.scheduler.capacity.root." + q.getKey();
      conf.setInt(p + ".capacity", q.getValue());
      conf.setInt(p + ".maximum-capacity", 100);
      conf.setFloat(p + ".user-limit-factor", 100f / Math.max(1, q.getValue()));
      conf.setFloat(p + ".maximum-am-resource-percent", 1.0f);
      conf.set(p + ".state", "RUNNING");
      conf.set(p + ".acl_submit_applications", "*");
      conf.set(p + ".acl_administer_queue", "*");
    }

    // --- Start HDFS ------------------------------------------------------------------------------------------
    File dfsDir = new File(work, "dfs");
    org.apache.hadoop.hdfs.MiniDFSCluster dfs = new org.apache.hadoop.hdfs.MiniDFSCluster.Builder(conf, dfsDir)
        .numDataNodes(1)
        .nameNodePort(nnPort)
        .nameNodeHttpPort(nnHttpPort)
        .format(true)
        .waitSafeMode(true)
        .build();
    dfs.waitActive();
    org.apache.hadoop.fs.FileSystem fs = dfs.getFileSystem();
    org.apache.hadoop.fs.Path user = new org.apache.hadoop.fs.Path("/user");
    org.apache.hadoop.fs.Path tmp = new org.apache.hadoop.fs.Path("/tmp");
    fs.mkdirs(user);
    fs.setPermission(user, new org.apache.hadoop.fs.permission.FsPermission((short) 0755));
    fs.mkdirs(tmp);
    fs.setPermission(tmp, new org.apache.hadoop.fs.permission.FsPermission((short) 01777));
    long tDfs = System.nanoTime();
    String defaultFs = "hdfs://" + host + ":" + dfs.getNameNodePort();
    conf.set("fs.defaultFS", defaultFs);

    // --- Start YARN ------------------------------------------------------------------------------------------
    org.apache.hadoop.yarn.server.MiniYARNCluster yarn =
        new org.apache.hadoop.yarn.server.MiniYARNCluster("atrium", 1, 1, 1, 1);
    yarn.init(conf);
    yarn.start();
    if (!yarn.waitForNodeManagersToConnect(60_000)) throw new IllegalStateException("NodeManager did not register within 60 s");
    long tYarn = System.nanoTime();

    // --- Client config for spark-submit / hdfs clients -------------------------------------------------------
    org.apache.hadoop.conf.Configuration core = new org.apache.hadoop.conf.Configuration(false);
    core.set("fs.defaultFS", defaultFs);
    core.set("hadoop.security.authentication", "simple");
    org.apache.hadoop.conf.Configuration hdfs = new org.apache.hadoop.conf.Configuration(false);
    hdfs.set("dfs.replication", "1");
    hdfs.set("dfs.namenode.http-address", host + ":" + nnHttpPort);
    hdfs.set("dfs.client.block.write.replace-datanode-on-failure.enable", "false");
    org.apache.hadoop.conf.Configuration yarnSite = new org.apache.hadoop.conf.Configuration(false);
    // What we asked for (127.0.0.1): the RM rewrites the conf it was given to "localhost:<port>".
    for (Map.Entry<String, String> e : rmAddresses.entrySet()) yarnSite.set(e.getKey(), e.getValue());
    yarnSite.set("yarn.scheduler.minimum-allocation-mb", "256");
    yarnSite.set("yarn.scheduler.maximum-allocation-mb", Integer.toString(nmMemoryMb));
    writeXml(core, new File(confDir, "core-site.xml"));
    writeXml(hdfs, new File(confDir, "hdfs-site.xml"));
    writeXml(yarnSite, new File(confDir, "yarn-site.xml"));

    String nmLogDirs = yarn.getNodeManager(0).getConfig().get("yarn.nodemanager.log-dirs");
    Map<String, Object> info = new LinkedHashMap<>();
    info.put("hadoopVersion", org.apache.hadoop.util.VersionInfo.getVersion());
    info.put("pid", ProcessHandle.current().pid());
    info.put("workDir", work.getPath());
    info.put("confDir", confDir.getPath());
    info.put("defaultFS", defaultFs);
    info.put("nameNodeHttpUrl", "http://" + host + ":" + nnHttpPort);
    info.put("webhdfsUrl", "http://" + host + ":" + nnHttpPort + "/webhdfs/v1");
    info.put("rmUrl", "http://" + host + ":" + rmWebPort);
    info.put("rmAddress", rmAddresses.get("yarn.resourcemanager.address"));
    info.put("rmSchedulerAddress", rmAddresses.get("yarn.resourcemanager.scheduler.address"));
    info.put("superuser", superuser);
    info.put("proxyUsers", proxyUsers);
    info.put("queues", new ArrayList<>(queues.keySet()));
    info.put("anonymousHttp", anonymousHttp);
    info.put("nodeManagerMemoryMb", nmMemoryMb);
    info.put("nodeManagerVcores", nmVcores);
    info.put("nodeManagerLogDirs", nmLogDirs);
    info.put("clusterLog", new File(work, "logs/cluster.log").getPath());
    info.put("javaHome", javaHome);
    info.put("hdfsStartMs", (tDfs - t0) / 1_000_000);
    info.put("yarnStartMs", (tYarn - tDfs) / 1_000_000);
    String json = toJson(info);
    Files.writeString(new File(work, "cluster.json").toPath(), json + "\n");

    AtomicBoolean stopping = new AtomicBoolean();
    CountDownLatch stopped = new CountDownLatch(1);
    long yarnStopBudgetMs = Long.parseLong(a.getOrDefault("yarn-stop-budget-ms", "5000"));
    Runnable stop = () -> {
      if (!stopping.compareAndSet(false, true)) return;
      System.out.println("[hadoop] stopping");
      // The NodeManager kills its containers first thing when it stops, then idles: ~3 s waiting for finished
      // applications to leave its context and 10 s for the log-deletion scheduler (NonAggregatingLogHandler)
      // whose tasks are hours away. Past the budget we move on; the JVM exit ends those threads.
      Thread yarnStop = new Thread(() -> {
        try { yarn.stop(); } catch (Throwable e) { System.err.println("[hadoop] stopping YARN: " + e); }
      }, "yarn-stop");
      yarnStop.setDaemon(true);
      yarnStop.start();
      try { yarnStop.join(yarnStopBudgetMs); } catch (InterruptedException ignored) {}
      try { dfs.shutdown(); } catch (Throwable e) { System.err.println("[hadoop] stopping HDFS: " + e); }
      new File(work, "cluster.json").delete();
      System.out.println("[hadoop] stopped");
      System.out.flush();
      stopped.countDown();
    };
    // SIGTERM/SIGINT stop the cluster BEFORE the JVM starts shutting down: during shutdown Hadoop's own hooks
    // (FileSystem cache, ...) run concurrently and MiniDFSCluster.shutdown() fails removing its hook.
    Runnable stopAndExit = () -> {
      stop.run();
      try { stopped.await(); } catch (InterruptedException ignored) {}
      System.exit(0);
    };
    for (String sig : new String[] {"TERM", "INT"}) {
      sun.misc.Signal.handle(new sun.misc.Signal(sig), s -> new Thread(stopAndExit, "atrium-stop-" + sig).start());
    }
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      stop.run(); // any other exit: best effort
      try { stopped.await(); } catch (InterruptedException ignored) {}
    }, "atrium-stop-hook"));
    if (Boolean.parseBoolean(a.getOrDefault("exit-on-stdin-eof", "false"))) {
      Thread t = new Thread(() -> {
        try (InputStream in = System.in) { while (in.read() >= 0) {} } catch (IOException ignored) {}
        stopAndExit.run(); // the parent (test runner) is gone
      }, "stdin-watch");
      t.setDaemon(true);
      t.start();
    }
    System.out.println(READY + " " + json);
    System.out.flush();
    stopped.await();
  }

  static void writeXml(org.apache.hadoop.conf.Configuration c, File f) throws IOException {
    try (OutputStream out = new FileOutputStream(f)) { c.writeXml(out); }
  }

  static Map<String, String> parseArgs(String[] argv) {
    Map<String, String> a = new LinkedHashMap<>();
    for (int i = 0; i < argv.length; i++) {
      String k = argv[i];
      if (!k.startsWith("--")) throw new IllegalArgumentException("unexpected argument " + k);
      k = k.substring(2);
      int eq = k.indexOf('=');
      if (eq >= 0) a.put(k.substring(0, eq), k.substring(eq + 1));
      else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) a.put(k, argv[++i]);
      else a.put(k, "true");
    }
    return a;
  }

  static String req(Map<String, String> a, String k) {
    String v = a.get(k);
    if (v == null) {
      System.err.println("usage: java -cp '<lib>/*' MiniCluster.java --work-dir DIR [--conf-dir DIR] [--nn-port N] "
          + "[--nn-http-port N] [--rm-port N] [--rm-scheduler-port N] [--rm-tracker-port N] [--rm-admin-port N] "
          + "[--rm-web-port N] [--nm-memory-mb N] [--nm-vcores N] [--queues default:40,risk:30,fraud:30] "
          + "[--proxy-users a,b] [--anonymous-http false] [--exit-on-stdin-eof] [--debug-delay-sec N] [--yarn-stop-budget-ms 5000] [--log-level INFO]");
      System.exit(2);
    }
    return v;
  }

  static int port(Map<String, String> a, String k, int def) {
    return Integer.parseInt(a.getOrDefault(k, Integer.toString(def)));
  }

  static String toJson(Object o) {
    if (o == null) return "null";
    if (o instanceof Number || o instanceof Boolean) return o.toString();
    if (o instanceof Map<?, ?> m) {
      StringBuilder b = new StringBuilder("{");
      for (Map.Entry<?, ?> e : m.entrySet()) {
        if (b.length() > 1) b.append(',');
        b.append(toJson(e.getKey().toString())).append(':').append(toJson(e.getValue()));
      }
      return b.append('}').toString();
    }
    if (o instanceof List<?> l) {
      StringBuilder b = new StringBuilder("[");
      for (Object x : l) {
        if (b.length() > 1) b.append(',');
        b.append(toJson(x));
      }
      return b.append(']').toString();
    }
    String s = o.toString();
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }
}
