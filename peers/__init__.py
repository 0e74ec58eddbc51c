"""Real DICOM peers for tests and benchmarks, on 127.0.0.1 and free ports.

* :mod:`peers.dcmtk`: DCMTK ``storescp`` as a server, ``storescu`` as a
  reference sender with a generated association profile;
* :mod:`peers.orthanc`: an Orthanc server with its own temporary
  storage, plus REST helpers;
* :mod:`peers.pynetdicom_scp`: an in-process SCP that can be scripted to
  misbehave (statuses, aborts, sleeps, rejects);
* :mod:`peers.dicom_files`: small DICOM files made with pydicom;
* :mod:`peers.processes`: free ports, bounded waits, stopping by PID.

Every wait is bounded and every process started here is stopped by its PID
(its process group, in fact), also when a test fails.
"""
